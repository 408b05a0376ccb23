"""Issue 13, class 7 (files that are not what they seem): every file hafab reads goes through one bounded
reader (hafab/engine/readfile.py). A directory, a FIFO (would hang), a link to /dev/zero (would eat
memory), a file too large or (for text) not UTF-8 is one line naming the file, exit 2, read in bounded
time and memory: for hosts.yaml, top.sls, an SLS, a template, a Jinja import, a static source, the stats
secret, an ssh_config, the lab's state file, and every file salt.export scans."""

import os
import socket

import pytest

from hafab import lab
from hafab.cluster import inventory, minions, reach, salt_export, secrets
from hafab.engine import readfile, transport
from hafab.engine.errors import EXIT_BAD_INPUT, InputError
from hafab.lab import state as lab_state

HOSTS = """\
cluster:
  vip: 10.98.0.10
  subnet: 10.98.0.0/24
  interface: eth1
  virtual_router_id: 9
hosts:
  app1: {address: 10.98.0.21, roles: [app]}
"""
TREE = {
    "hosts.yaml": HOSTS,
    "states/top.sls": "base:\n  'roles:app':\n    - match: pillar\n    - app\n",
    "states/app.sls": "{% from 'macros.jinja' import motd %}\n"
                      "app-conf:\n  file.managed:\n    - name: /tmp/hafab-never-app\n"
                      "    - source: salt://app.conf\n    - template: jinja\n"
                      "static:\n  file.managed:\n    - name: /tmp/hafab-never-static\n"
                      "    - source: salt://static.txt\n",
    "states/macros.jinja": "{% set motd = 'hi' %}\n",
    "files/app.conf": "app {{ grains.id }}\n",
    "files/static.txt": "static\n",
}
LIMIT = readfile.LIMIT


def build(tmp_path):
    for name, text in TREE.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def make(kind, path, limit=LIMIT):
    """Replace the file at `path` by something that is not what it seems."""
    if os.path.lexists(path):
        os.remove(path)
    if kind == "directory":
        os.mkdir(path)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        os.symlink("/dev/zero", path)
    elif kind == "not-utf8":
        with open(path, "wb") as fh:
            fh.write(b"a: 1\n\xff\xfe: 2\n")
    elif kind == "too-large":
        with open(path, "wb") as fh:
            fh.truncate(limit + 1)  # sparse: costs no disk
    os.chmod(path, 0o600) if kind in ("not-utf8", "too-large") else None


KINDS = {
    "directory": "is a directory, not a regular file",
    "fifo": "is a FIFO, not a regular file",
    "dev-zero": "is a character device, not a regular file",
    "not-utf8": "is not UTF-8 text (line 2, byte offset 5)",
    "too-large": f"is larger than {LIMIT // (1024 * 1024)} MiB: refusing to read it",
}


def error(call, *args):
    with pytest.raises(InputError) as info:
        call(*args)
    assert info.value.exit_code == EXIT_BAD_INPUT
    assert "\n" not in str(info.value)
    return str(info.value)


def compile_tree(root):
    minions.compile_hosts(inventory.load(str(root / "hosts.yaml")))


# (reader, the file replaced, what reads it, the start of the one line)
READERS = [
    ("hosts.yaml", "hosts.yaml", lambda root: inventory.load(str(root / "hosts.yaml")), "hosts.yaml: "),
    ("top.sls", "states/top.sls", compile_tree, "states/top.sls: "),
    ("sls", "states/app.sls", compile_tree, "states/app.sls: "),
    ("jinja-import", "states/macros.jinja", compile_tree, "states/macros.jinja: "),
    ("template", "files/app.conf", compile_tree, "files/app.conf: "),
    ("salt-export-scan", "files/other.txt", lambda root: salt_export.check_grains(str(root)), "files/other.txt: "),
]
CASES = [(reader, kind) for reader in READERS for kind in KINDS
         if not (reader[0] == "salt-export-scan" and kind in ("directory", "not-utf8"))]  # a folder; binary: fine


@pytest.mark.parametrize("reader,kind", CASES, ids=[f"{r[0]}-{k}" for r, k in CASES])
def test_every_tree_file_that_is_not_what_it_seems_is_one_line(tmp_path, reader, kind):
    _, name, read, start = reader
    root = build(tmp_path)
    make(kind, root / name)
    message = error(read, root)
    if kind == "dev-zero" and reader[0] != "hosts.yaml":
        # a link to /dev/zero leaves the tree: refused as such before anything opens it (class 2's rule)
        assert f"{name} resolves outside" in message or message.startswith(f"{name}: resolves outside"), message
        return
    assert message.startswith(start), message
    # salt.export names every non-regular file it walks past in one way
    expected = ("is not a regular file (a device, a pipe or a dangling link)"
                if reader[0] == "salt-export-scan" and kind == "fifo" else KINDS[kind])
    assert expected in message, message
    if name == "files/app.conf":
        assert message.endswith("(rendering for states/app.sls: app-conf)")


def test_a_binary_static_source_is_still_shipped(tmp_path):
    root = build(tmp_path)
    make("not-utf8", root / "files/static.txt")
    compile_tree(root)  # Salt ships binary files: only templates must be UTF-8


def test_a_static_source_too_large_names_the_state_and_the_file(tmp_path):
    root = build(tmp_path)
    make("too-large", root / "files/static.txt")
    assert error(compile_tree, root) == \
        f"states/app.sls: static: files/static.txt: {KINDS['too-large']}"


@pytest.mark.parametrize("kind", KINDS)
def test_the_stats_secret_that_is_not_what_it_seems(tmp_path, kind):
    root = build(tmp_path)
    inv = inventory.load(str(root / "hosts.yaml"))
    (root / ".secrets").mkdir(mode=0o700)
    make(kind, root / ".secrets/stats-password", limit=secrets.SECRET_LIMIT)
    # the content rule (one line of 16+ safe characters) speaks for oversized and non-UTF-8 files
    expected = {"too-large": "the secret file must hold one line of at least 16 characters from "
                             "[A-Za-z0-9._~+/=-] (it is larger than 4096 bytes)",
                "not-utf8": "the secret file must hold one line of at least 16 characters from "
                            "[A-Za-z0-9._~+/=-] (it has 2 lines)",
                # a link to /dev/zero leads out of the repository: the path rule refuses it first
                "dev-zero": "cluster.stats_password_file: '.secrets/stats-password' resolves outside the "
                            "directory of hosts.yaml: the secret stays in the repository"}.get(kind, "is not a regular file")
    where = "hosts.yaml" if kind == "dev-zero" else ".secrets/stats-password (cluster.stats_password_file)"
    assert error(secrets.stats_password, inv) == f"{where}: {expected}"


@pytest.mark.parametrize("kind", KINDS)
def test_an_ssh_config_that_is_not_what_it_seems(tmp_path, kind):
    root = build(tmp_path)
    inv = inventory.load(str(root / "hosts.yaml"))
    path = str(root / "ssh_config")
    make(kind, path, limit=transport.SSH_CONFIG_LIMIT)
    message = error(reach.ssh_config_for, inv, list(inv.hosts.values()), path)
    expected = {"too-large": "is larger than 1 MiB: refusing to read it"}.get(kind, KINDS[kind])
    assert message == f"{path}: {expected}"


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "too-large"])
def test_transport_reads_the_ssh_config_bounded_too(tmp_path, kind):
    path = str(tmp_path / "ssh_config")
    make(kind, path, limit=transport.SSH_CONFIG_LIMIT)
    with pytest.raises(InputError) as info:   # reach checks it before any connection; connect reads it bounded too
        transport.connect("app1", path)
    assert str(info.value).startswith(f"{path}: ")


@pytest.mark.parametrize("kind", [*KINDS, "not-json"])
def test_the_lab_state_that_is_not_what_it_seems(tmp_path, kind):
    root = build(tmp_path)
    inv = inventory.load(str(root / "hosts.yaml"))
    (root / ".lab").mkdir()
    path = root / ".lab/state.json"
    if kind == "not-json":
        path.write_text("{half")
    else:
        make(kind, path, limit=lab_state.STATE_LIMIT)
    message = error(lab.is_up, inv)
    assert message.startswith(".lab/state.json: ")
    expected = {"not-json": "is not valid JSON (line 1): the lab's state is unknown",
                "too-large": "is larger than 1 MiB: refusing to read it"}.get(kind) or KINDS[kind]
    assert message.endswith(expected)


# ---- the reader itself ---------------------------------------------------------------------------------

def test_a_socket_a_dangling_link_and_a_link_loop(tmp_path):
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    os.symlink(tmp_path / "loop", tmp_path / "loop")
    try:
        assert error(readfile.read_text, str(tmp_path / "sock"), "s") == "s: is a socket, not a regular file"
    finally:
        sock.close()
    assert error(readfile.read_text, str(tmp_path / "dangling"), "d") == "d: file not found"
    assert error(readfile.read_text, str(tmp_path / "loop"), "l") == "l: is a loop of symbolic links"


@pytest.mark.parametrize("size,ok", [(0, True), (10, True), (11, False)], ids=["empty", "at-limit", "over"])
def test_the_limit_is_exact(tmp_path, size, ok):
    path = tmp_path / "f"
    path.write_bytes(b"x" * size)
    if ok:
        assert readfile.read_text(str(path), "f", limit=10) == "x" * size
    else:
        assert error(readfile.read_text, str(path), "f", 10) == "f: is larger than 10 bytes: refusing to read it"


def test_bytes_are_read_whole_and_text_is_decoded(tmp_path):
    path = tmp_path / "f"
    path.write_bytes("héllo\n".encode() + b"\xff")
    assert readfile.read_bytes(str(path), "f") == "héllo\n".encode() + b"\xff"
    assert error(readfile.read_text, str(path), "f") == "f: is not UTF-8 text (line 2, byte offset 7)"
