"""Every kind of bad input: exit 2, one line on stderr naming the file and key (or file, line and ID),
and not one connection opened to any host."""

import socket
import threading

import pytest

from tests.e2e.conftest import inv

GOOD_HOSTS = """\
cluster:
  vip: 10.98.0.10
  subnet: 10.98.0.0/24
  interface: eth1
  virtual_router_id: 9
hosts:
  lb1: {address: 10.98.0.11, roles: [lb], priority: 101}
  app1: {address: 10.98.0.21, roles: [app]}
"""
GOOD_TOP = "base:\n  '*':\n    - common\n  'roles:lb':\n    - match: pillar\n  'roles:app':\n    - match: pillar\n    - app\n"
GOOD_COMMON = "motd:\n  file.managed:\n    - name: /tmp/hafab-never-written\n    - contents: hi\n"
GOOD_APP = "include:\n  - common\n\napp-conf:\n  file.managed:\n    - name: /tmp/hafab-never-app\n    - source: salt://app.conf\n    - template: jinja\n"

# (case id, {file: new text} or {file: (old, new)}, expected words in the one-line error)
CASES = [
    ("invalid-yaml", {"hosts.yaml": "cluster: [\n"}, ["hosts.yaml", "invalid YAML"]),
    ("empty-file", {"hosts.yaml": ""}, ["hosts.yaml", "empty"]),
    ("missing-vip", {"hosts.yaml": ("  vip: 10.98.0.10\n", "")}, ["hosts.yaml", "cluster.vip", "missing"]),
    ("vip-outside-subnet", {"hosts.yaml": ("vip: 10.98.0.10", "vip: 10.97.0.10")}, ["cluster.vip", "subnet"]),
    ("vip-is-a-host", {"hosts.yaml": ("vip: 10.98.0.10", "vip: 10.98.0.21")}, ["hosts.app1.address", "cluster.vip"]),
    ("duplicate-address", {"hosts.yaml": ("10.98.0.21", "10.98.0.11")}, ["hosts.app1.address", "hosts.lb1"]),
    ("duplicate-host", {"hosts.yaml": ("  app1: {", "  lb1: {address: 10.98.0.31, roles: [lb], priority: 99}\n  app1: {")},
     ["hosts.yaml", "duplicate key 'lb1'"]),
    ("priority-out-of-range", {"hosts.yaml": ("priority: 101", "priority: 300")}, ["hosts.lb1.priority", "1 to 254"]),
    ("unknown-role", {"hosts.yaml": ("roles: [app]", "roles: [app, db]")}, ["hosts.app1.roles", "'db'"]),
    ("unknown-key", {"hosts.yaml": ("  interface: eth1\n", "  interface: eth1\n  colour: blue\n")},
     ["cluster.colour", "unknown key"]),
    ("bad-hostname", {"hosts.yaml": ("  app1: {", "  app_1: {")}, ["hosts.app_1", "host name"]),
    ("malformed-address", {"hosts.yaml": ("10.98.0.21", "10.98.0.300")},
     ["hosts.yaml: hosts.app1.address: '10.98.0.300' is not an IPv4 address"]),
    ("sls-invalid-yaml", {"states/app.sls": GOOD_APP + "broken: [\n"}, ["states/app.sls", "invalid YAML"]),
    ("jinja-syntax-error", {"states/app.sls": GOOD_APP + "{% if %}\n"}, ["states/app.sls:9:", "syntax"]),
    ("jinja-undefined", {"states/app.sls": GOOD_APP + "x:\n  cmd.run:\n    - name: {{ pillar.nope }}\n"},
     ["states/app.sls:11:", "nope"]),
    ("template-undefined", {"files/app.conf": "line\n{{ grains.nothing.here }}\n"}, ["files/app.conf:2", "nothing"]),
    ("unknown-function", {"states/app.sls": GOOD_APP + "x:\n  pkg.instaled: []\n"}, ["states/app.sls", "pkg.instaled"]),
    ("unknown-argument", {"states/app.sls": GOOD_APP.replace("source:", "sorce:")}, ["states/app.sls", "app-conf", "sorce"]),
    ("duplicate-id-across-includes", {"states/app.sls": GOOD_APP + "motd:\n  cmd.run:\n    - name: 'true'\n"},
     ["motd", "states/common.sls", "states/app.sls"]),
    ("requisite-missing", {"states/app.sls": GOOD_APP + "    - require:\n      - file: nothing-here\n"},
     ["app-conf", "nothing-here"]),
    ("requisite-cycle", {"states/app.sls": GOOD_APP + "    - require:\n      - cmd: loop\nloop:\n  cmd.run:\n"
                                                      "    - name: 'true'\n    - require:\n      - file: app-conf\n"},
     ["cycle", "app-conf", "loop"]),
    ("missing-source", {"states/app.sls": GOOD_APP.replace("salt://app.conf", "salt://nope.conf")},
     ["app-conf", "salt://nope.conf"]),
    ("include-loop", {"states/common.sls": "include:\n  - app\n" + GOOD_COMMON}, ["include", "common", "app"]),
]


@pytest.fixture
def listener():
    """A TCP port that counts the connections it is sent; the ssh_config points every host at it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.2)
    accepted = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                accepted.append(1)
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1], accepted
    stop.set()
    thread.join(timeout=2)
    sock.close()


def build(tmp_path, changes):
    files = {"hosts.yaml": GOOD_HOSTS, "states/top.sls": GOOD_TOP, "states/common.sls": GOOD_COMMON,
             "states/app.sls": GOOD_APP, "files/app.conf": "app {{ grains.id }}\n"}
    for name, change in changes.items():
        files[name] = files[name].replace(*change) if isinstance(change, tuple) else change
        assert not isinstance(change, tuple) or change[0] in (GOOD_HOSTS + GOOD_APP), name
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "hosts.yaml"


def ssh_config(tmp_path, port):
    path = tmp_path / "ssh_config"
    path.write_text(f"Host *\n  HostName 127.0.0.1\n  Port {port}\n  User root\n")
    return str(path)


def test_the_good_tree_does_connect(tmp_path, listener):
    port, accepted = listener
    result = inv("provision", "--inventory", str(build(tmp_path, {})), "--ssh-config", ssh_config(tmp_path, port))
    assert result.returncode == 1 and accepted  # it did dial: the cases below are refused before that


@pytest.mark.parametrize("case,changes,words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line_and_no_connection(tmp_path, listener, case, changes, words):
    port, accepted = listener
    hosts = build(tmp_path, changes)
    result = inv("provision", "--inventory", str(hosts), "--ssh-config", ssh_config(tmp_path, port))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert accepted == [] and result.stdout == ""
