"""A real lab on its own subnet (not the developers' 192.168.50.0/24), torn down even when tests fail.

Needs root, systemd-nspawn and debootstrap. In CI (CI=true) a lab that cannot run is a failure, never a skip.
"""

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

import pytest

from hafab import inventory as inventory_mod
from hafab import lab, netguard
from hafab.lab import inotify, names

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUBNET_PREFIX = "192.168.77"
HOSTS_YAML = f"""\
cluster:
  name: labtest
  vip: {SUBNET_PREFIX}.10
  subnet: {SUBNET_PREFIX}.0/24
  interface: eth1
  virtual_router_id: 77
hosts:
  hap1: {{address: {SUBNET_PREFIX}.11, roles: [lb], priority: 101}}
  hap2: {{address: {SUBNET_PREFIX}.12, roles: [lb], priority: 100}}
  web1: {{address: {SUBNET_PREFIX}.21, roles: [web]}}
  web2: {{address: {SUBNET_PREFIX}.22, roles: [web]}}
"""


def _cannot_run(why):
    if os.environ.get("CI") == "true":
        pytest.fail(f"lab tests cannot run in CI: {why}")
    pytest.skip(why)


def inv(*args, timeout=600):
    """Run `inv ARGS` from the repository, as a user would."""
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@dataclass
class Lab:
    path: str           # hosts.yaml
    inventory: object   # hafab.inventory.Inventory

    @property
    def ssh_config(self):
        return lab.ssh_config_path(self.inventory)

    def address(self, host):
        return self.inventory.hosts[host].address

    def ssh(self, host, command, timeout=120):
        """Run command on host over the lab's SSH, after checking the route goes through the lab bridge."""
        netguard.require_lab_route(self.address(host), lab.bridge_name(self.inventory))
        return subprocess.run(["ssh", "-F", self.ssh_config, "-o", "BatchMode=yes", host, command],
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def machine_snapshot():
    """What lab.down must leave as it found: netns names, bridges, fs.inotify.max_user_instances."""
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split("\n")
    bridges = subprocess.run(["ip", "-o", "link", "show", "type", "bridge"], capture_output=True, text=True).stdout
    return {"netns": {line.split()[0] for line in netns if line.strip()},
            "bridges": {line.split(":")[1].strip() for line in bridges.splitlines()},
            "inotify": inotify.current()}


@pytest.fixture(scope="module")
def lab77(tmp_path_factory):
    """The 4-host test lab, up; yields a Lab. lab.down runs in `finally`, whatever happened."""
    if os.geteuid() != 0:
        _cannot_run("lab tests need root")
    for tool in ("systemd-nspawn", "debootstrap", "ssh", "ssh-keygen"):
        if not shutil.which(tool):
            _cannot_run(f"{tool} is not installed")
    path = str(tmp_path_factory.mktemp("lab77") / "hosts.yaml")
    with open(path, "w") as f:
        f.write(HOSTS_YAML)
    inventory = inventory_mod.load(path)
    before = machine_snapshot()
    try:
        result = inv("lab.up", "--inventory", path, timeout=1800)
        assert result.returncode == 0, result.stderr
        yield Lab(path=path, inventory=inventory)
    finally:
        lab.down(inventory, progress=lambda _: None)
        after = machine_snapshot()
        assert before["inotify"] == after["inotify"]
        assert names.bridge(inventory) not in after["bridges"]


@pytest.fixture
def run_inv():
    """inv(*args, timeout=600) -> CompletedProcess of `inv ARGS` run from the repository."""
    return inv


@pytest.fixture
def snapshot():
    """machine_snapshot() -> the netns, bridges and inotify limit of the machine now."""
    return machine_snapshot
