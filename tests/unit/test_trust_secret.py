"""Issue 13, class 4 (the secret): every place a secret can enter, and every stream it must not reach.

The streams are the boundary's (hafab.engine.boundary): a task's text and its --json document through
cli/common.py, the one-line error through cli/common.py, progress through engine/progress.py and the
printers' `say`. The secret enters through a state id, a name, a comment, a change, an error message,
a progress event, a JSON key, or a diff of a file on a host that still holds an older version.
"""

import io
import json
import os
import re

import pytest
from invoke import Exit

from hafab.cli.common import reports_errors
from hafab.cluster import inventory, minions, secrets
from hafab.cluster.provision import _result as provision_result_of
from hafab.engine import boundary
from hafab.engine.errors import HostError, InputError
from hafab.engine.progress import Progress
from hafab.engine import runner
from hafab.engine.runner import HostReport
from tests.unit.localhost import LocalRemote

SECRET = "Zq7-current.Secret~value+16/="      # what the secret file holds now
OLD = "old-live-password-on-the-host"        # what a host still holds from before a change


@pytest.fixture(autouse=True)
def registry(monkeypatch):
    """A registry of this test only, holding SECRET (other tests' secrets neither leak in nor out)."""
    monkeypatch.setattr(boundary, "_secrets", set())
    monkeypatch.setattr(boundary, "_secret_re", None)
    boundary.register(SECRET)


def ret(ident, name, comment="", changes=None, result=True):
    return {"__id__": ident, "__sls__": "app", "__run_num__": 0, "name": name, "result": result,
            "changes": changes or {}, "comment": comment, "start_time": "10:00:00.000000", "duration": 1.0}


def provision_result(ident="motd", name="/etc/motd", comment="", changes=None, result=True, error=""):
    """provision's own TaskResult (cluster/provision.py) of one host with one state."""
    report = HostReport("alpha", error=error)
    report.results[f"cmd_|-{ident}_|-{name}_|-run"] = ret(ident, name, comment, changes, result)
    return provision_result_of({"alpha": report}, 0.5, False, True)


def run_task(body, as_json=False):
    """Run `body` as a task does (cli/common.reports_errors); (stdout, stderr, exit code)."""
    out, err = io.StringIO(), io.StringIO()

    @reports_errors
    def task(json=False):
        return body()

    import sys
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    code = 0
    try:
        task(json=as_json)
    except Exit as exc:
        code = exc.code
    finally:
        sys.stdout, sys.stderr = saved
    return out.getvalue(), err.getvalue(), code


def raising(exc):
    def body():
        raise exc
    return body


ENTRIES = {   # where the secret enters -> a task body showing it
    "state id": lambda: provision_result(ident=f"user-{SECRET}", changes={"retcode": 0}),
    "state name": lambda: provision_result(name=f"/srv/{SECRET}"),
    "comment": lambda: provision_result(comment=f'Command "echo {SECRET}" run', changes={"retcode": 0}),
    "failed state": lambda: provision_result(comment=f"stderr: bad {SECRET}", result=False),
    "changes": lambda: provision_result(changes={"stdout": f"{SECRET}\n", "retcode": 0}),
    "host error": lambda: provision_result(error=f"connection lost while sending {SECRET}"),
    "current diff": lambda: provision_result(changes={"diff": f"+    stats auth 'admin:{SECRET}'\n"}),
    "input error": raising(InputError(f"states/{SECRET}.sls", f"mode: {SECRET!r} is not an octal mode")),
    "host failure": raising(HostError(f"alpha: command failed: {SECRET}")),
    "two-line error": raising(InputError("x", f"line 1\n  {SECRET}\n")),
}


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("entry", list(ENTRIES))
def test_the_secret_reaches_no_stream(entry, as_json):
    stdout, stderr, _ = run_task(ENTRIES[entry], as_json)
    assert SECRET not in stdout + stderr
    assert boundary.MASK in stdout + stderr
    if as_json and stdout:
        json.loads(stdout)                      # still exactly one JSON document


@pytest.mark.parametrize("entry", ["input error", "host failure", "two-line error"])
def test_an_error_stays_one_line(entry):
    _, stderr, code = run_task(ENTRIES[entry])
    assert stderr.count("\n") == 1 and code in (1, 2)


@pytest.mark.parametrize("live", [False, True], ids=["log", "terminal"])
@pytest.mark.parametrize("host, message", [
    ("alpha", f"user-{SECRET}: failed"),
    ("alpha", f"failed: cannot connect to {SECRET}"),
    (SECRET, "waiting for the lock held by root"),
    ("alpha", f"waiting for the lock held by {OLD}"),
])
def test_progress_lines_hide_every_version(host, message, live):
    boundary.learn([f"auth {SECRET}"], [f"auth {OLD}"])
    stream = io.StringIO()
    stream.isatty = lambda: live
    progress = Progress(1, "provision", stream)
    progress.event(host, message)
    progress.done()
    assert SECRET not in stream.getvalue() and OLD not in stream.getvalue()
    assert boundary.MASK in stream.getvalue()


def test_say_writes_one_masked_line():
    stream = io.StringIO()
    boundary.say(f"lab: {SECRET}\nsecond", stream)
    assert stream.getvalue() == "lab: **********\\nsecond\n"


# ---- versions found on a host: learned from a diff before it is shown ----------------------------

@pytest.mark.parametrize("wanted, found, hidden", [
    # the haproxy.cfg line after a password change: the removed line carries the old one
    (f"    stats auth 'admin:{SECRET}'", f"    stats auth 'admin:{OLD}'", [OLD]),
    # two secrets in one line
    (f"user={SECRET} backup={SECRET}", f"user={OLD} backup=another-old-value", [OLD, "another-old-value"]),
    # a host line that only starts like the wanted one
    (f"password={SECRET}", f"password={OLD} # set by hand", [OLD]),
    # a short old value is hidden with its whole line (alone it would mask common words)
    (f"    stats auth 'admin:{SECRET}'", "    stats auth 'admin:abc'", ["abc'", "admin:abc"]),
    # a line that is only the secret (a password file)
    (SECRET, OLD, [OLD]),
])
def test_a_version_found_on_a_host_is_hidden(wanted, found, hidden):
    diff = f"--- /etc/f\n+++ /etc/f\n@@ -1,2 +1,2 @@\n keep\n-{found}\n+{wanted}\n"
    boundary.learn_from_changes({"diff": diff, "mode": "0640"})
    for shown in (boundary.text(diff), boundary.line(diff), boundary.json_text({"diff": diff})):
        for value in hidden + [SECRET]:
            assert value not in shown
    assert "keep" in boundary.text(diff)


@pytest.mark.parametrize("wanted, found", [
    ("    stats uri /stats", "    stats uri /old"),             # no secret in the wanted line
    (f"    stats auth 'admin:{SECRET}'", "    timeout 5s"),      # a host line of another shape
    (f"{SECRET}", f"{SECRET}"),                                    # the current secret itself
])
def test_nothing_else_is_learned(wanted, found):
    boundary.learn([wanted], [found])
    assert boundary._secrets == {SECRET}


@pytest.mark.parametrize("check", [True, False], ids=["check", "apply"])
def test_a_run_after_a_password_change_shows_neither_version(tmp_path, check):
    """A real run (states compiled from a tree, applied by the runner to a local stand-in host): the file
    on the host holds the old password, the secret file the new one."""
    (tmp_path / "states").mkdir()
    (tmp_path / "files").mkdir()
    inv = write_secret(tmp_path, SECRET.encode() + b"\n")
    (tmp_path / "states" / "top.sls").write_text("base:\n  'roles:web':\n    - match: pillar\n    - app\n")
    (tmp_path / "states" / "app.sls").write_text(
        f"conf:\n  file.managed:\n    - name: {tmp_path}/app.cfg\n"
        "    - contents: |\n        listen stats\n            stats auth 'admin:{{ pillar.stats_password }}'\n")
    (tmp_path / "app.cfg").write_text(f"listen stats\n    stats auth 'admin:{OLD}'\n")
    states = minions.compile_host(inv, "web1")
    report = runner.HostReport("web1")
    host = runner.HostRun("web1", states, LocalRemote(), check, deadline=10 ** 12)
    host.facts = host.gather(states)
    runner._run_states(host, report, lambda *a: None)
    result = provision_result_of({"web1": report}, 0.1, check, False)
    assert f"-    stats auth 'admin:{OLD}'" in json.dumps(result.document)     # raw inside, for the run
    for as_json in (False, True):
        stdout, _, _ = run_task(lambda: result, as_json)
        assert OLD not in stdout and SECRET not in stdout
        assert "-    stats auth 'admin:**********'" in (json.loads(stdout)["hosts"]["web1"].popitem()[1]
                                                         ["changes"]["diff"] if as_json else stdout)


# ---- structure: keys redacted only when they hold a secret, never merged, never a crash ----------

@pytest.mark.parametrize("secret", ["e", "result", "_|-", "0"])
def test_a_short_secret_neither_crashes_nor_merges(secret):
    boundary.register(secret)
    stdout, stderr, code = run_task(lambda: provision_result(ident="motd", comment="created"))
    assert code == 0 and stderr == "" and stdout.count("\n") > 10
    assert secret not in re.sub("\033\\[[0-9;]*m", "", stdout)                  # hafab's colours aside
    stdout, _, _ = run_task(lambda: provision_result(ident="motd", comment="created"), as_json=True)
    doc = json.loads(stdout)
    assert len(doc) == 5 and len(list(doc.values())[0]) == 1      # hosts, errors, summary, ...: none merged
    assert all(secret not in value for value in _values(doc))


def _values(obj):
    if isinstance(obj, dict):
        for value in obj.values():
            yield from _values(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from _values(item)
    elif isinstance(obj, str):
        yield obj


@pytest.mark.parametrize("document, expected", [
    ({f"a{SECRET}": 1, "a**********": 2}, {"a********** #2": 1, "a**********": 2}),
    ({f"x{SECRET}": 1, f"x{OLD}": 2}, {"x**********": 1, "x********** #2": 2}),
    ({"plain": SECRET, 3: [SECRET, (SECRET, 1)]}, {"plain": "**********", "3": ["**********", ["**********", 1]]}),
    ({"nested": {SECRET: {"result": True}}}, {"nested": {"**********": {"result": True}}}),
])
def test_keys_hold_no_secret_and_never_merge(document, expected):
    boundary.register(OLD)
    assert json.loads(boundary.json_text(document)) == expected


# ---- the secret file: one line of at least 16 characters from a safe set ------------------------

HOSTS = "cluster: {vip: 10.0.0.10, subnet: 10.0.0.0/24, interface: eth1, virtual_router_id: 7}\n" \
        "hosts:\n  web1: {address: 10.0.0.21, roles: [web]}\n"


def write_secret(tmp_path, content):
    (tmp_path / "hosts.yaml").write_text(HOSTS)
    (tmp_path / ".secrets").mkdir(mode=0o700)
    path = tmp_path / ".secrets" / "stats-password"
    path.write_bytes(content)
    path.chmod(0o600)
    return inventory.load(str(tmp_path / "hosts.yaml"))


@pytest.mark.parametrize("content, why", [
    (b"", "is empty"),
    (b"\n", "is empty"),
    (b"short-secret\n", "(it has 12 characters)"),
    (b"a" * 15 + b"\n", "(it has 15 characters)"),
    (b"first-half-of-it\nsecond-half-of-it\n", "(it has 2 lines)"),
    (b"abcdefghijklmnopq\n\n", "(it has 2 lines)"),
    (b"abcdefgh'ijklmnopq\n", "(character 9 is not one of them)"),        # a quote truncated it live
    (b'abcdefgh"ijklmnopq\n', "(character 9 is not one of them)"),
    (b"abcdefgh ijklmnopq\n", "(character 9 is not one of them)"),
    (b" abcdefghijklmnopq\n", "(character 1 is not one of them)"),
    (b"abcdefgh\\ijklmnopq\n", "(character 9 is not one of them)"),
    (b"abcdefgh#ijklmnopq\n", "(character 9 is not one of them)"),
    (b"abcdefghijklmnopq\r\n", "(character 18 is not one of them)"),
    (b"abcdefghijklmnopq\t\n", "(character 18 is not one of them)"),
    (b"abcdefgh\x1bijklmnopq\n", "(character 9 is not one of them)"),
    ("abcdefgh\u00e9ijklmnopq\n".encode(), "(character 9 is not one of them)"),
    (b"\xff" * 20 + b"\n", "(character 1 is not one of them)"),
    (b"x" * 5000, "larger than 4096 bytes"),
])
def test_a_bad_secret_file_is_refused_naming_the_file(tmp_path, content, why):
    inv = write_secret(tmp_path, content)
    with pytest.raises(InputError) as info:
        secrets.stats_password(inv)
    message = str(info.value)
    assert info.value.exit_code == 2
    assert message.startswith(".secrets/stats-password (cluster.stats_password_file): ") and why in message
    assert "[A-Za-z0-9._~+/=-]" in message
    assert content.strip().decode("ascii", "replace")[:12] not in message or not content.strip()


@pytest.mark.parametrize("content", [
    b"abcdefghijklmnop\n", b"abcdefghijklmnop", b"A-Za-z0-9._~+/=-\n", b"Zq7.current~Secret+16/=-_x\n",
])
def test_a_good_secret_file_is_read(tmp_path, content):
    assert secrets.stats_password(write_secret(tmp_path, content)) == content.decode().rstrip("\n")


def test_generated_secrets_meet_the_rule(tmp_path):
    for number in range(50):
        root = tmp_path / str(number)
        root.mkdir()
        (root / "hosts.yaml").write_text(HOSTS)
        password = secrets.stats_password(inventory.load(str(root / "hosts.yaml")))
        assert secrets.checked_secret(open(os.path.join(root, ".secrets", "stats-password"), "rb").read(),
                                      "x") == password
        assert password in boundary._secrets
