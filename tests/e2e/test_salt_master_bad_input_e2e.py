"""`inv salt.master` bad input: exit 2, one line naming what is wrong, no master started, nothing listening.

Runs without a lab: the inventory's subnet (HAFAB_TEST_MASTER_BAD_PREFIX, default 192.168.84) is not up.
"""

import os
import shutil
import subprocess

import pytest

from hafab.cluster import inventory as inventory_mod
from hafab.lab import saltmaster
from tests.e2e.conftest import REPO, inv

PREFIX = os.environ.get("HAFAB_TEST_MASTER_BAD_PREFIX", "192.168.84")
HOSTS_YAML = f"""\
cluster:
  vip: {PREFIX}.10
  subnet: {PREFIX}.0/24
  interface: eth1
  virtual_router_id: 84
hosts:
  hap1: {{address: {PREFIX}.11, roles: [lb], priority: 101}}
  web1: {{address: {PREFIX}.21, roles: [web]}}
"""


def _not_a_dir(out):
    shutil.rmtree(out)


def _not_an_export(out):
    os.remove(os.path.join(out, ".hafab-salt-export"))


def _pillar_readable(out):
    os.chmod(os.path.join(out, "pillar", "hosts", "web1.sls"), 0o644)


def _dir_readable(out):
    os.chmod(out, 0o755)


def _pillar_missing(out):
    os.remove(os.path.join(out, "pillar", "hosts", "hap1.sls"))


CASES = [
    ("lab-down", None, ["lab: the lab is not up"]),
    ("not-a-directory", _not_a_dir, ["--export", "is not a directory"]),
    ("not-an-export", _not_an_export, ["--export", "is not an export"]),
    ("pillar-readable", _pillar_readable, ["--export", "web1.sls is mode 0644"]),
    ("directory-readable", _dir_readable, ["--export", "is mode 0755"]),
    ("pillar-missing", _pillar_missing, ["--export", "pillar/hosts/hap1.sls is missing"]),
]


@pytest.mark.parametrize("case,spoil,words", CASES, ids=[c[0] for c in CASES])
def test_salt_master_refuses_bad_input_with_one_line_and_starts_nothing(tmp_path, case, spoil, words):
    for name in ("states", "files"):
        shutil.copytree(os.path.join(REPO, name), tmp_path / name)
    (tmp_path / "hosts.yaml").write_text(HOSTS_YAML)
    inventory = inventory_mod.load(str(tmp_path / "hosts.yaml"))
    out = str(tmp_path / "out")
    assert inv("salt.export", "--inventory", str(tmp_path / "hosts.yaml"), "--out", out).returncode == 0
    if spoil:
        spoil(out)
    done = inv("salt.master", "--inventory", str(tmp_path / "hosts.yaml"), "--export", out)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words), done.stderr
    assert not os.path.exists(saltmaster.master_dir(inventory))
    listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    assert f"{PREFIX}.1:4505" not in listening and f"{PREFIX}.1:4506" not in listening
