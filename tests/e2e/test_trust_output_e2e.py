"""Issue 13, classes 4 and 6 end to end: `inv provision` over the loopback sshd never shows any version of
the secret, nor a raw control character, on stdout or stderr.

The SLS names the secret in a state id, a command (so in a comment and its output) and a failing state;
after a first run the secret file changes, and `--check` shows the diff of a file whose removed line
carries the old password, still live on the host.
"""

import json
import os

import pytest

from tests.e2e.conftest import inv, write_ssh_config
from tests.e2e.test_provision_ssh import make_project

FIRST = "first-Secret.value~0123456789"
SECOND = "second-Secret/value+ABCDEFGHIJ="
MASK = "**********"

SECRET_SLS = r"""
    {% set root = 'TARGET/' ~ grains.id %}
    {% set pw = pillar['stats_password'] %}
    app-dir:
      file.directory:
        - name: {{ root }}
        - makedirs: True
    auth-{{ pw }}:
      file.managed:
        - name: {{ root }}/auth.cfg
        - contents: |
            listen stats
                stats auth 'admin:{{ pw }}'
        - require: [app-dir]
    echo-secret:
      cmd.run:
        - name: echo {{ pw }}
        - require: [app-dir]
    fail-{{ pw }}:
      cmd.run:
        - name: echo "no {{ pw }}" >&2; exit 3
    "term-\e]0;title\a\e[2J\rX":
      cmd.run:
        - name: printf 'out \033[31m red \r over \233 csi\n'
        - require: [app-dir]
    shown:
      file.managed:
        - name: {{ root }}/shown.txt
        - contents: clean
        - require: [app-dir]
"""


def write_secret(root, value):
    os.makedirs(root / ".secrets", mode=0o700, exist_ok=True)
    path = root / ".secrets" / "stats-password"
    path.write_text(value + "\n")
    path.chmod(0o600)


@pytest.fixture
def project(tmp_path, sshd):
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "proj").mkdir()
    root = make_project(tmp_path / "proj", target, SECRET_SLS, hosts=("alpha",))
    write_secret(root, FIRST)
    config = write_ssh_config(tmp_path / "ssh_config", sshd, ("alpha",))
    return {"root": root, "target": target, "config": config}


def provision(project, *flags):
    return inv("provision", "--inventory", str(project["root"] / "hosts.yaml"),
               "--ssh-config", project["config"], *flags)


def assert_clean(result):
    """Neither version of the secret, no raw control character, on either stream."""
    for stream in (result.stdout, result.stderr):
        assert FIRST not in stream and SECOND not in stream
        assert not [c for c in stream if (c < " " and c != "\n") or "\x7f" <= c <= "\x9f"], stream[-2000:]


def test_no_version_of_the_secret_and_no_raw_control_reaches_the_operator(project):
    outputs = [provision(project), provision(project, "--json")]
    auth = project["target"] / "alpha" / "auth.cfg"
    assert FIRST in auth.read_text()                     # the password is live on the host
    (project["target"] / "alpha" / "shown.txt").write_bytes(b"\x1b]52;c;cHdu\x07 title\r\n\x9b2J \xff\n")
    write_secret(project["root"], SECOND)                 # the password changes: the host holds FIRST
    outputs += [provision(project, "--check"), provision(project, "--check", "--json")]
    check_text, check_json = outputs[2], json.loads(outputs[3].stdout)
    outputs += [provision(project), provision(project, "--json")]
    assert SECOND in auth.read_text()
    for number, result in enumerate(outputs):
        assert result.returncode == (0 if number in (2, 3) else 1), result.stderr   # fail-... fails on purpose
        assert_clean(result)
    # what is shown instead: the masked lines, the escaped controls
    assert f"-    stats auth 'admin:{MASK}'" in check_text.stdout
    assert f"+    stats auth 'admin:{MASK}'" in check_text.stdout
    assert f"ID: auth-{MASK}" in check_text.stdout and f"ID: fail-{MASK}" in check_text.stdout
    assert f"fail-{MASK}: failed" in outputs[0].stderr and f"auth-{MASK}: would change" in check_text.stderr
    assert "-\\x1b]52;c;cHdu\\x07 title\\r" in check_text.stdout and "-\\x9b2J \\xff" in check_text.stdout
    assert "ID: term-\\x1b]0;title\\x07\\x1b[2J\\rX" in outputs[0].stdout
    assert "out \\x1b[31m red \\r over \\x9b csi" in outputs[0].stdout
    diffs = [r["changes"].get("diff", "") for r in check_json["hosts"]["alpha"].values()]
    assert any(f"-    stats auth 'admin:{MASK}'" in d for d in diffs)
    assert any("\x1b]52;c;cHdu\x07" in d for d in diffs)                              # JSON escapes it


@pytest.mark.parametrize("name, sls", [
    ("secret as a mode", "x:\n  file.managed:\n    - name: TARGET/x\n    - contents: a\n"
                         "    - mode: {{ pillar['stats_password'] }}\n"),
    ("secret as a state function", "x:\n  {{ pillar['stats_password'] }}: []\n"),
    ("duplicate id built from it", "id-{{ pillar.stats_password }}:\n  cmd.run: [{name: a}]\n"
                                   "id-{{ pillar.stats_password }}:\n  cmd.run: [{name: b}]\n"),
    ("colon typo", "x:\n  cmd.run:\n    - name: a\n    - cwd {{ pillar.stats_password }}: b\n"),
    ("jinja error naming it", "{{ pillar[pillar.stats_password] }}\n"),
    ("secret as an argument", "x:\n  cmd.run:\n    - name: a\n    - {{ pillar.stats_password }}: |\n        b\n        c\n"),
    ("control characters", "\"x-\\e[2J\\r\":\n  bad.function: []\n"),
])
def test_an_error_line_shows_no_secret_and_no_control(tmp_path, sshd, name, sls):
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "proj").mkdir()
    root = make_project(tmp_path / "proj", target, sls, hosts=("alpha",))
    write_secret(root, FIRST)
    config = write_ssh_config(tmp_path / "ssh_config", sshd, ("alpha",))
    result = inv("provision", "--inventory", str(root / "hosts.yaml"), "--ssh-config", config)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.stderr
    assert_clean(result)
    assert list(target.iterdir()) == []


@pytest.mark.parametrize("content, why", [
    (b"abcdefgh'ijklmnopq\n", "(character 9 is not one of them)"),
    (b"first-half-of-it\nsecond-half-of-it\n", "(it has 2 lines)"),
    (b"x\n", "(it has 1 characters)"),
])
def test_a_bad_secret_file_exits_2_naming_it(tmp_path, sshd, content, why):
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "proj").mkdir()
    root = make_project(tmp_path / "proj", target, SECRET_SLS, hosts=("alpha",))
    write_secret(root, "placeholder-to-replace")
    (root / ".secrets" / "stats-password").write_bytes(content)
    config = write_ssh_config(tmp_path / "ssh_config", sshd, ("alpha",))
    result = inv("provision", "--check", "--inventory", str(root / "hosts.yaml"), "--ssh-config", config)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(".secrets/stats-password (cluster.stats_password_file): ")
    assert why in result.stderr and len(result.stderr.splitlines()) == 1
    assert content.decode("ascii", "replace").split("\n")[0] not in result.stderr or content == b"x\n"
    assert list(target.iterdir()) == []
