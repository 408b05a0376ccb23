"""Issue 13, class 2: files outside the tree. Real symbolic links in a temporary tree: a salt:// source,
an SLS, an include, top.sls, a Jinja import/include and every file salt.export copies must resolve inside
its folder (states/ or files/), or it is bad input naming the link, and the target is never read; the
secret's path (cluster.stats_password_file) stays inside the repository, out of states/ and files/."""

import json
import os

import pytest

from hafab.cluster import inventory, minions, salt_export
from hafab.engine.errors import EXIT_BAD_INPUT, InputError

HOSTS = """\
cluster:
  vip: 10.0.0.10
  subnet: 10.0.0.0/24
  interface: eth1
  virtual_router_id: 7
hosts:
  web1: {address: 10.0.0.21, roles: [web]}
"""
TOP = "base:\n  'roles:web':\n    - match: pillar\n    - app\n"
CONTENT = "TOP-SECRET-CONTENT-OUTSIDE"
APP = "conf:\n  file.managed:\n    - name: /tmp/never\n    - source: {source}\n"


@pytest.fixture
def tree(tmp_path):
    """tmp/repo (hosts.yaml, states/, files/) and tmp/outside/{shadow, x.sls, init.sls, map.jinja}."""
    root, outside = tmp_path / "repo", tmp_path / "outside"
    for folder in (root / "states", root / "files", outside):
        folder.mkdir(parents=True)
    (root / "hosts.yaml").write_text(HOSTS)
    (root / "states" / "top.sls").write_text(TOP)
    (root / "states" / "app.sls").write_text(APP.format(source="salt://app.conf"))
    (root / "files" / "app.conf").write_text("app {{ grains.id }}\n")
    (outside / "shadow").write_text(CONTENT + "\n")
    (outside / "x.sls").write_text(f"leak:\n  cmd.run:\n    - name: echo {CONTENT}\n")
    (outside / "init.sls").write_text(f"leak:\n  cmd.run:\n    - name: echo {CONTENT}\n")
    (outside / "map.jinja").write_text("{% set port = '" + CONTENT + "' %}\n")
    return root


def link(path, target):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def compile_error(root):
    inv = inventory.load(str(root / "hosts.yaml"))
    with pytest.raises(InputError) as info:
        minions.compile_hosts(inv)
    return checked(info.value)


def checked(error):
    message = str(error)
    assert error.exit_code == EXIT_BAD_INPUT and "\n" not in message and CONTENT not in message
    return message


def _evil_source(root, out):
    link(root / "files" / "evil", out / "shadow")
    (root / "states" / "app.sls").write_text(APP.format(source="salt://evil"))


def _evil_template(root, out):
    _evil_source(root, out)
    (root / "states" / "app.sls").write_text(APP.format(source="salt://evil") + "    - template: jinja\n")


def _dir_source(root, out):
    link(root / "files" / "sub", out)
    (root / "states" / "app.sls").write_text(APP.format(source="salt://sub/shadow"))


def _device_source(root, out):
    link(root / "files" / "zero", "/dev/zero")
    (root / "states" / "app.sls").write_text(APP.format(source="salt://zero"))


def _sls_link(root, out):
    (root / "states" / "app.sls").unlink()
    link(root / "states" / "app.sls", out / "x.sls")


def _sls_dir_link(root, out):
    (root / "states" / "app.sls").unlink()
    link(root / "states" / "app", out)  # SLS app -> states/app/init.sls -> outside/init.sls


def _include_link(root, out):
    link(root / "states" / "lib.sls", out / "x.sls")
    (root / "states" / "app.sls").write_text("include: [lib]\n" + APP.format(source="salt://app.conf"))


def _top_link(root, out):
    (out / "top.sls").write_text(TOP)
    (root / "states" / "top.sls").unlink()
    link(root / "states" / "top.sls", out / "top.sls")


def _import_link(root, out):
    link(root / "states" / "map.jinja", out / "map.jinja")
    (root / "states" / "app.sls").write_text("{% from 'map.jinja' import port %}\n"
                                             + APP.format(source="salt://app.conf"))


def _include_in_template(root, out):
    link(root / "files" / "part.conf", out / "shadow")
    (root / "files" / "app.conf").write_text("a\n{% include 'part.conf' %}\n")
    (root / "states" / "app.sls").write_text(APP.format(source="salt://app.conf") + "    - template: jinja\n")


HOSTILE_TREES = [
    ("source-link-to-a-file", _evil_source, "states/app.sls: conf: source 'salt://evil': files/evil resolves "
                                            "outside files/ (a symbolic link): refusing to read it"),
    ("source-link-rendered", _evil_template, "states/app.sls: conf: source 'salt://evil': files/evil resolves"),
    ("source-through-a-linked-dir", _dir_source, "source 'salt://sub/shadow': files/sub/shadow resolves outside"),
    ("source-link-to-dev-zero", _device_source, "source 'salt://zero': files/zero resolves outside files/"),
    ("sls-link", _sls_link, "states/app.sls: resolves outside states/ (a symbolic link): refusing to read it"),
    ("sls-init-through-a-linked-dir", _sls_dir_link, "states/app/init.sls: resolves outside states/"),
    ("included-sls-link", _include_link, "states/lib.sls: resolves outside states/"),
    ("top-file-link", _top_link, "states/top.sls: resolves outside states/"),
    ("jinja-import-link", _import_link, "states/app.sls:1: sandbox: states/map.jinja resolves outside states/ "
                                        "(a symbolic link): refusing to read it"),
    ("jinja-include-link", _include_in_template, "files/app.conf:2: sandbox: files/part.conf resolves outside "
                                                 "files/ (a symbolic link): refusing to read it (rendering for "
                                                 "states/app.sls: conf)"),
]


@pytest.mark.parametrize("case,make,expected", HOSTILE_TREES, ids=[c[0] for c in HOSTILE_TREES])
def test_provision_compile_refuses_links_out_of_the_folder(tree, case, make, expected):
    make(tree, tree.parent / "outside")
    assert expected in compile_error(tree)


def _alias_source(root):
    link(root / "files" / "alias.conf", "app.conf")
    (root / "states" / "app.sls").write_text(APP.format(source="salt://alias.conf") + "    - template: jinja\n")


def _alias_sls(root):
    (root / "states" / "real").mkdir()
    (root / "states" / "app.sls").rename(root / "states" / "real" / "app.sls")
    link(root / "states" / "app.sls", "real/app.sls")


def _alias_import(root):
    (root / "states" / "lib").mkdir()
    (root / "states" / "lib" / "map.jinja").write_text("{% set port = 80 %}\n")
    link(root / "states" / "map.jinja", "lib/map.jinja")
    (root / "states" / "app.sls").write_text("{% from 'map.jinja' import port %}\n"
                                             + APP.format(source="salt://app.conf"))


@pytest.mark.parametrize("make", [_alias_source, _alias_sls, _alias_import], ids=["source", "sls", "import"])
def test_links_that_stay_inside_their_folder_still_work(tree, make):
    make(tree)
    states = minions.compile_hosts(inventory.load(str(tree / "hosts.yaml")))["web1"]
    assert [s.id for s in states] == ["conf"]


# --- salt.export -----------------------------------------------------------------------------------------

def _fifo(root, out):
    os.mkfifo(root / "files" / "pipe")


EXPORT_CASES = [
    ("file-link", lambda r, o: link(r / "files" / "evil", o / "shadow"), "files/evil: resolves outside files/"),
    ("etc-shadow-link", lambda r, o: link(r / "files" / "evil", "/etc/shadow"), "files/evil: resolves outside"),
    ("dir-link", lambda r, o: link(r / "files" / "sub", o), "files/sub: resolves outside files/"),
    ("sls-link-unused", lambda r, o: link(r / "states" / "spare.sls", o / "x.sls"), "states/spare.sls: resolves"),
    ("link-to-the-folder", lambda r, o: link(r / "files" / "loop", "."), "files/loop: resolves outside files/"),
    ("dir-link-loop", lambda r, o: link(r / "files" / "a" / "b", "../a"), "files/a/b: is a link to a directory "
                                                                         "that contains it (a loop)"),
    ("dangling-link", lambda r, o: link(r / "files" / "gone", "nothing-here"), "files/gone: is not a regular file"),
    ("fifo", _fifo, "files/pipe: is not a regular file (a device, a pipe or a dangling link)"),
]


@pytest.mark.parametrize("case,make,expected", EXPORT_CASES, ids=[c[0] for c in EXPORT_CASES])
def test_salt_export_refuses_and_writes_nothing(tree, tmp_path, case, make, expected):
    make(tree, tmp_path / "outside")
    out = tmp_path / "export"
    with pytest.raises(InputError) as info:
        salt_export.export(inventory.load(str(tree / "hosts.yaml")), out=str(out), progress=lambda _: None)
    assert expected in checked(info.value)
    assert not out.exists() and sorted(os.listdir(tmp_path)) == ["outside", "repo"]


def test_salt_export_copies_links_that_stay_inside(tree, tmp_path):
    link(tree / "files" / "alias.conf", "app.conf")
    (tree / "files" / "real").mkdir()
    (tree / "files" / "real" / "x.txt").write_text("x\n")
    link(tree / "files" / "again", "real")
    out = salt_export.export(inventory.load(str(tree / "hosts.yaml")), out=str(tmp_path / "export"),
                             progress=lambda _: None)
    root = os.path.join(out, "file_root")
    assert open(os.path.join(root, "alias.conf")).read() == "app {{ grains.id }}\n"
    assert open(os.path.join(root, "again", "x.txt")).read() == "x\n"
    assert not any(os.path.islink(os.path.join(d, n)) for d, _, names in os.walk(root) for n in names)


# --- cluster.stats_password_file -------------------------------------------------------------------------

SECRET_PATHS = [
    ("../../somewhere/id_ed25519", "resolves outside the directory of hosts.yaml"),
    ("../outside/shadow", "resolves outside the directory of hosts.yaml"),
    (".secrets/../../x", "resolves outside the directory of hosts.yaml"),
    ("/root/.ssh/id_ed25519", "must be a path relative to the directory of hosts.yaml"),
    ("linked/pw", "resolves outside the directory of hosts.yaml"),  # linked -> ../outside
    (".", "resolves outside the directory of hosts.yaml"),
    ("files/pw", "lies in files/, which hafab ships to hosts and salt.export copies"),
    ("states/sub/pw", "lies in states/"),
    ("pw\nx", "control character"),
    ("", "must be a path"),
    (7, "must be a path"),
]


@pytest.mark.parametrize("setting,expected", SECRET_PATHS, ids=[repr(s[0]) for s in SECRET_PATHS])
def test_secret_path_must_stay_inside_the_repository(tree, tmp_path, setting, expected):
    link(tree / "linked", tmp_path / "outside")
    before = sorted(os.listdir(tmp_path)), sorted(os.listdir(tmp_path / "outside"))
    (tree / "hosts.yaml").write_text(HOSTS.replace("hosts:\n", f"  stats_password_file: {json.dumps(setting)}\nhosts:\n"))
    with pytest.raises(InputError) as info:
        inventory.load(str(tree / "hosts.yaml"))
    message = checked(info.value)
    assert message.startswith("hosts.yaml: cluster.stats_password_file: ") and expected in message
    assert (sorted(os.listdir(tmp_path)), sorted(os.listdir(tmp_path / "outside"))) == before


@pytest.mark.parametrize("setting", [".secrets/stats-password", "private/deep/pw", "./pw"])
def test_secret_paths_inside_the_repository_are_created_there(tree, setting):
    (tree / "hosts.yaml").write_text(HOSTS.replace("hosts:\n", f"  stats_password_file: {setting}\nhosts:\n"))
    inv = inventory.load(str(tree / "hosts.yaml"))
    password = minions.pillar(inv, inv.hosts["web1"])["stats_password"]
    assert (tree / setting).read_text().strip() == password


def test_a_secret_inventory_built_by_hand_is_checked_too(tree, tmp_path):
    inv = inventory.load(str(tree / "hosts.yaml"))
    inv.cluster["stats_password_file"] = "../elsewhere/pw"
    with pytest.raises(InputError, match="resolves outside the directory of hosts.yaml"):
        minions.pillar(inv, inv.hosts["web1"])
    assert not (tmp_path / "elsewhere").exists()
