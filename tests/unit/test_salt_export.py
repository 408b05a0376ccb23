"""`inv salt.export`: the file root, the pillar tree (exactly hafab's pillar), permissions, refusals."""

import os
import shutil
import stat
import subprocess
import sys

import pytest
import yaml

from hafab.cluster import inventory
from hafab.cluster import salt_export
from hafab.engine.errors import InputError
from hafab.cluster import minions

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("states", "files"):
        shutil.copytree(os.path.join(REPO, name), root / name)
    shutil.copy(os.path.join(REPO, "hosts.yaml"), root / "hosts.yaml")
    return root


def load_sls(path):
    with open(path) as f:
        text = f.read()
    assert text.startswith("#!yaml\n")  # no Jinja pass over the pillar (the password may hold `{{`)
    return yaml.safe_load(text)


def test_export_layout_pillar_and_permissions(tree, tmp_path):
    inv = inventory.load(str(tree / "hosts.yaml"))
    out = salt_export.export(inv, out=str(tmp_path / "out" / "salt"), progress=lambda _: None)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o700
    for dirpath, dirnames, names in os.walk(out):
        assert stat.S_IMODE(os.stat(dirpath).st_mode) == 0o700, dirpath
        for name in names:
            assert stat.S_IMODE(os.stat(os.path.join(dirpath, name)).st_mode) == 0o600, name
    # salt://haproxy/haproxy.cfg and SLS `haproxy` resolve in one file root
    for rel in ("top.sls", "haproxy.sls", "haproxy/haproxy.cfg", "apache/configtest.sh"):
        assert os.path.isfile(os.path.join(out, "file_root", rel)), rel
    with open(os.path.join(out, "file_root", "haproxy", "haproxy.cfg")) as f, \
            open(tree / "files" / "haproxy" / "haproxy.cfg") as g:
        assert f.read() == g.read()
    top = yaml.safe_load(open(os.path.join(out, "pillar", "top.sls")).read())
    assert top == {"base": {name: [f"hosts.{name}"] for name in inv.hosts}}
    for name, host in inv.hosts.items():
        pillar = load_sls(os.path.join(out, "pillar", "hosts", f"{name}.sls"))
        assert pillar == minions.pillar(inv, host)
        assert list(pillar["hosts"]) == list(inv.hosts)  # templates iterate hosts in hosts.yaml order
    assert "stats_password" in pillar and pillar["stats_password"]
    roster = yaml.safe_load(open(os.path.join(out, "roster")).read())
    assert roster["web1"] == {"host": inv.hosts["web1"].address, "user": "root"}
    readme = open(os.path.join(out, "README.md")).read()
    assert "0700" in readme and "salt-call --local" in readme and "salt-ssh" in readme
    minion = yaml.safe_load(open(os.path.join(out, "minion")).read())
    assert minion["file_roots"]["base"] == [os.path.join(out, "file_root")]


def test_export_again_replaces_and_refuses_a_foreign_directory(tree, tmp_path):
    inv = inventory.load(str(tree / "hosts.yaml"))
    out = str(tmp_path / "salt")
    salt_export.export(inv, out=out, progress=lambda _: None)
    open(os.path.join(out, "file_root", "stale.sls"), "w").close()
    salt_export.export(inv, out=out, progress=lambda _: None)
    assert not os.path.exists(os.path.join(out, "file_root", "stale.sls"))
    foreign = tmp_path / "etc"
    foreign.mkdir()
    (foreign / "passwd").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        salt_export.export(inv, out=str(foreign), progress=lambda _: None)
    assert (foreign / "passwd").read_text() == "x"


def test_hafab_only_grains_are_refused(tree, tmp_path):
    with open(tree / "files" / "apache" / "index.html", "a") as f:
        f.write("{{ grains['roles'] }}\n")
    inv = inventory.load(str(tree / "hosts.yaml"))
    with pytest.raises(InputError, match="roles"):
        salt_export.export(inv, out=str(tmp_path / "salt"), progress=lambda _: None)
    assert not (tmp_path / "salt").exists()


def test_bad_sls_writes_nothing_and_exits_2(tree, tmp_path):
    (tree / "states" / "common.sls").write_text("x:\n  pkg.installed:\n    - bogus_arg: 1\n")
    out = tmp_path / "salt"
    result = subprocess.run([sys.executable, "-m", "invoke", "salt.export", "--inventory", str(tree / "hosts.yaml"),
                             "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "bogus_arg" in result.stderr
    assert not out.exists()


def test_a_path_in_both_states_and_files_is_refused(tree, tmp_path):
    (tree / "files" / "common.sls").write_text("x: {}\n")
    inv = inventory.load(str(tree / "hosts.yaml"))
    with pytest.raises(InputError, match="both"):
        salt_export.export(inv, out=str(tmp_path / "salt"), progress=lambda _: None)


def test_grain_match_in_top_file_is_refused(tree, tmp_path):
    top = (tree / "states" / "top.sls").read_text().replace("match: pillar", "match: grain")
    (tree / "states" / "top.sls").write_text(top)
    inv = inventory.load(str(tree / "hosts.yaml"))
    with pytest.raises(InputError, match="match: grain"):
        salt_export.export(inv, out=str(tmp_path / "salt"), progress=lambda _: None)
