"""Issue 13, classes 1 (values into configs) and 7 (files that are not what they seem), through real `inv`
processes: the issue's examples are exit 2 with one line naming the file and key, nothing dialed (a
listening socket counts the connections), and a FIFO or /dev/zero in place of a file does not hang."""

import os

import pytest

from tests.e2e.conftest import inv
from tests.e2e.test_bad_input import GOOD_HOSTS, build, listener, ssh_config  # noqa: F401  (listener: fixture)

VALUE_CASES = [
    ("cluster-name-injection", ("  vip: 10.98.0.10\n", '  name: "x)\\nlisten pwn\\n    bind :2222"\n  vip: 10.98.0.10\n'),
     ["hosts.yaml: cluster.name: 'x)\\nlisten pwn\\n    bind :2222' is not a valid cluster name"]),
    ("vars-shadow-interface", ("priority: 101}", 'priority: 101, vars: {interface: "eth1; reboot"}}'),
     ["hosts.yaml: hosts.lb1.vars.interface: shadows the validated key cluster.interface"]),
    ("vars-shadow-vip", ("roles: [app]}", "roles: [app], vars: {vip: 10.98.0.99}}"),
     ["hosts.yaml: hosts.app1.vars.vip: shadows the validated key cluster.vip"]),
    ("vars-shadow-address", ("roles: [app]}", "roles: [app], vars: {address: 10.98.0.99}}"),
     ["hosts.yaml: hosts.app1.vars.address: shadows the validated key hosts.app1.address"]),
    ("vars-shadow-priority", ("priority: 101}", "priority: 101, vars: {priority: 255}}"),
     ["hosts.yaml: hosts.lb1.vars.priority: shadows the validated key hosts.lb1.priority"]),
    ("vars-control-character", ("roles: [app]}", 'roles: [app], vars: {motd: "hi\\e[2J"}}'),
     ["hosts.yaml: hosts.app1.vars.motd: contains the control character U+001B"]),
    ("host-name-trailing-newline", ("  app1: {", '  "app1\\n": {'),
     ["hosts.yaml: hosts.'app1\\n': 'app1\\n' is not a valid host name"]),
    ("interface-trailing-newline", ("interface: eth1", 'interface: "eth1\\n"'),
     ["hosts.yaml: cluster.interface: 'eth1\\n' is not an interface name"]),
    ("role-trailing-newline", ("roles: [app]", 'roles: ["app\\n"]'), ["hosts.yaml: hosts.app1.roles: 'app\\n'"]),
]


def run(tmp_path, port, hosts=None, config=None):
    return inv("provision", "--inventory", str(hosts or tmp_path / "hosts.yaml"),
               "--ssh-config", config or ssh_config(tmp_path, port), cwd=tmp_path, timeout=120)


def assert_refused(result, accepted, words):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert accepted == [] and result.stdout == ""


@pytest.mark.parametrize("case,change,words", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_values_that_would_reach_a_config_are_refused(tmp_path, listener, case, change, words):  # noqa: F811
    assert change[0] in GOOD_HOSTS
    port, accepted = listener
    build(tmp_path, {"hosts.yaml": GOOD_HOSTS.replace(*change)})
    assert_refused(run(tmp_path, port), accepted, words)


def _replace(path, kind):
    os.remove(path)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        os.symlink("/dev/zero", path)
    elif kind == "directory":
        os.mkdir(path)
    elif kind == "not-utf8":
        with open(path, "wb") as fh:
            fh.write(b"# caf\xe9\n")
        os.chmod(path, 0o600)


FILE_CASES = [(name, kind) for name in ("hosts.yaml", "states/top.sls", "states/app.sls", "files/app.conf",
                                        ".secrets/stats-password", "ssh_config")
              for kind in ("fifo", "dev-zero", "directory", "not-utf8")]
WHAT = {"fifo": "FIFO", "dev-zero": "character device", "directory": "directory", "not-utf8": "not UTF-8"}


@pytest.mark.parametrize("name,kind", FILE_CASES, ids=[f"{n}-{k}" for n, k in FILE_CASES])
def test_a_file_that_is_not_what_it_seems_is_one_line_and_no_hang(tmp_path, listener, name, kind):  # noqa: F811
    port, accepted = listener
    build(tmp_path, {})
    config = ssh_config(tmp_path, port)
    secret = tmp_path / ".secrets" / "stats-password"
    secret.parent.mkdir(mode=0o700)
    secret.write_text("a-good-long-secret-for-the-test\n")
    secret.chmod(0o600)
    _replace(tmp_path / name, kind)
    result = run(tmp_path, port, config=config)
    where = config if name == "ssh_config" else name
    words = [WHAT[kind]]
    if name == ".secrets/stats-password":
        where = ".secrets/stats-password (cluster.stats_password_file)"
        # not UTF-8: the content rule (one line of safe characters) refuses it
        words = ["not a regular file"] if kind != "not-utf8" else ["is not one of them"]
    if kind == "dev-zero" and name != "hosts.yaml" and name != "ssh_config":
        # a link out of the tree or the repository: the path rule refuses it before anything is opened
        words = ["resolves outside"]
        where = "hosts.yaml: cluster.stats_password_file" if name.startswith(".secrets") else name
    assert_refused(result, accepted, [where, *words])
