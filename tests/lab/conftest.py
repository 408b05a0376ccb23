"""A real lab on its own subnet (not the developers' 192.168.50.0/24), torn down even when tests fail.

Needs root, systemd-nspawn and debootstrap. In CI (CI=true) a lab that cannot run is a failure, never a skip.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

import pytest

from hafab.cluster import inventory as inventory_mod
from hafab import lab
from hafab.lab import netguard
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


def require_lab():
    """Root and the lab's tools, or a skip (a failure in CI)."""
    if os.geteuid() != 0:
        _cannot_run("lab tests need root")
    for tool in ("systemd-nspawn", "debootstrap", "ssh", "ssh-keygen"):
        if not shutil.which(tool):
            _cannot_run(f"{tool} is not installed")


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
    require_lab()
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
        if not [b for b in after["bridges"] if b.startswith("hafab-")]:
            assert before["inotify"] == after["inotify"]  # restored, unless another lab still runs
        assert names.bridge(inventory) not in after["bridges"]


@pytest.fixture
def run_inv():
    """inv(*args, timeout=600) -> CompletedProcess of `inv ARGS` run from the repository."""
    return inv


@pytest.fixture
def snapshot():
    """machine_snapshot() -> the netns, bridges and inotify limit of the machine now."""
    return machine_snapshot


# The seed cluster on its own lab, provisioned once per test session from a copy of the repository's
# states/ and files/ (tests may edit their copy). HAFAB_TEST_CLUSTER_PREFIX picks another /24 so that
# two developers' test runs can share a machine.
CLUSTER_PREFIX = os.environ.get("HAFAB_TEST_CLUSTER_PREFIX", "192.168.79")


@dataclass
class Cluster(Lab):
    root: str = ""
    first_provision: dict = None   # the --json document of the provision that built it

    def inv(self, *args, timeout=600):
        """`inv TASK --inventory <this cluster's hosts.yaml> ARGS`."""
        task, rest = args[0], args[1:]
        return inv(task, "--inventory", self.path, *rest, timeout=timeout)


def tree_copy(root, hosts_yaml):
    """A copy of the repository's states/ and files/ under `root`, `hosts_yaml` written beside them:
    the path of that hosts.yaml (tests may edit their copy)."""
    for name in ("states", "files"):
        shutil.copytree(os.path.join(REPO, name), os.path.join(root, name))
    path = os.path.join(root, "hosts.yaml")
    with open(path, "w") as f:
        f.write(hosts_yaml)
    return path


@contextlib.contextmanager
def provisioned(root, hosts_yaml, up_args=(), runner=inv):
    """A cluster on a lab of its own: tree_copy(root, hosts_yaml), `inv lab.up` (+ up_args), one
    `inv provision --json` (run through `runner`); yields a Cluster. lab.down runs in `finally`, whatever
    happened, and the lab's bridge must be gone after it."""
    require_lab()
    path = tree_copy(root, hosts_yaml)
    inventory = inventory_mod.load(path)
    try:
        result = inv("lab.up", "--inventory", path, *up_args, timeout=1800)
        assert result.returncode == 0, result.stderr[-3000:]
        first = runner("provision", "--inventory", path, "--json", timeout=1800)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        yield Cluster(path=path, inventory=inventory, root=root, first_provision=json.loads(first.stdout))
    finally:
        lab.down(inventory, progress=lambda _: None)
        assert names.bridge(inventory) not in machine_snapshot()["bridges"]


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """The seed cluster, lab up and provisioned once; yields a Cluster. Torn down in `finally`."""
    with open(os.path.join(REPO, "hosts.yaml")) as f:
        seed = f.read().replace("192.168.50.", CLUSTER_PREFIX + ".")
    with provisioned(str(tmp_path_factory.mktemp("cluster")), seed) as built:
        yield built
