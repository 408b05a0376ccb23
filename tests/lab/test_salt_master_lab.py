"""A real salt-master 3008 (`inv salt.master`) drives the same tree as `inv provision` (issue 16).

One lab of two fresh hosts (hap1 lb, web1 web) on its own /24 (HAFAB_TEST_MASTER_PREFIX, default
192.168.83), shared by the tests of this module in order, torn down in `finally`:
- the master listens on the bridge address only; the minions' keys were accepted after the check;
- `salt '*' state.apply` from the master converges the fresh hosts; `inv verify` passes; `inv provision`
  then changes nothing;
- a one-line template change, exported and applied by the master, changes exactly what
  `inv provision --check` predicted, host by host; the master's job output and hafab's `provision --json`
  for the same change have the same state ids, results and changed flags, in the same order;
- salt-ssh with the exported roster applies the tree to a fresh (rebuilt) web1 with the outcome the
  master had on the fresh web1;
- the rebuilt web1's new key does not match the key the master holds for web1: `inv salt.master` deletes
  it and fails web1 only (exit 1); run again, it accepts the new key;
- `--down` leaves nothing running, and `lab.down` stops a master started again.
"""

import json
import os
import shutil
import subprocess

import pytest

from hafab import lab
from hafab.cluster import inventory as inventory_mod
from hafab.lab import netguard, saltmaster, sshconfig
from tests.lab.conftest import REPO, Lab, inv, require_lab
from tests.lab.test_salt_interop import in_order, not_true, salt_cache  # noqa: F401 (fixture)

pytestmark = pytest.mark.lab

PREFIX = os.environ.get("HAFAB_TEST_MASTER_PREFIX", "192.168.83")
HOSTS_YAML = f"""\
cluster:
  name: saltmaster
  vip: {PREFIX}.10
  subnet: {PREFIX}.0/24
  interface: eth1
  virtual_router_id: 83
  vrrp: unicast
hosts:
  hap1: {{address: {PREFIX}.11, roles: [lb], priority: 101}}
  web1: {{address: {PREFIX}.21, roles: [web]}}
"""
OLD_LINE, NEW_LINE = "    timeout client 50000ms\n", "    timeout client 51000ms\n"
SEEN = {}  # results carried from one test to the next (the module's tests run in order)


class MasterLab(Lab):
    out: str = ""

    def inv(self, *args, timeout=900):
        return inv(*args, "--inventory", self.path, timeout=timeout)

    def export(self):
        done = self.inv("salt.export", "--out", self.out)
        assert done.returncode == 0, done.stderr

    def salt(self, *args, timeout=1500):
        done = subprocess.run(saltmaster.command(self.inventory, "salt", "--out=json", "--static", "-t", "1200",
                                                 *args), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        try:
            return json.loads(done.stdout)
        except ValueError:
            raise AssertionError(f"salt {args}: exit {done.returncode}: {done.stdout[-2000:]} "
                                 f"{done.stderr[-2000:]}") from None


@pytest.fixture(scope="module")
def mlab(tmp_path_factory, salt_cache):  # noqa: F811
    require_lab()
    root = tmp_path_factory.mktemp("saltmaster")
    for name in ("states", "files"):
        shutil.copytree(os.path.join(REPO, name), root / name)
    path = str(root / "hosts.yaml")
    with open(path, "w") as f:
        f.write(HOSTS_YAML)
    inventory = inventory_mod.load(path)
    the_lab = MasterLab(path=path, inventory=inventory)
    the_lab.out = str(root / "out" / "salt")
    try:
        up = inv("lab.up", "--inventory", path, timeout=1800)
        assert up.returncode == 0, up.stderr
        the_lab.export()
        started = the_lab.inv("salt.master", "--export", the_lab.out, "--json", timeout=1800)
        assert started.returncode == 0, started.stderr[-3000:]
        SEEN["started"] = json.loads(started.stdout)
        yield the_lab
    finally:
        inv("salt.master", "--down", "--inventory", path, timeout=600)
        lab.down(inventory, progress=lambda _: None)


def changed(results):
    return sorted(key for key, ret in results.items() if ret["changes"])


def outline(results):
    """(state id, result, changed?) in run order: what the master's and hafab's outputs must share."""
    return [(key, results[key]["result"], bool(results[key]["changes"])) for key in in_order(results)]


def master_listeners(the_lab):
    pid = SEEN["started"]["master"]["pid"]
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, timeout=10).stdout
    return sorted(line.split()[3] for line in out.splitlines() if f"pid={pid}," in line or
                  any(f"pid={p}," in line for p in session_pids(pid)))


def session_pids(sid):
    pids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[3]) == sid and fields[0] != "Z":  # a zombie runs nothing
                    pids.append(int(entry))
        except OSError:
            pass
    return pids


def test_master_listens_on_the_bridge_only_and_accepted_each_host_key_after_checking_it(mlab):
    bridge = saltmaster.address(mlab.inventory)
    assert master_listeners(mlab) == sorted(f"{bridge}:{p}" for p in saltmaster.PORTS)
    with open(os.path.join(saltmaster.config_dir(mlab.inventory), "master")) as f:
        config = f.read()
    assert "auto_accept: false" in config and "open_mode: false" in config
    keys = json.loads(subprocess.run(saltmaster.command(mlab.inventory, "salt-key", "--out=json", "-L"),
                                     capture_output=True, text=True, timeout=60).stdout)
    assert keys["minions"] == ["hap1", "web1"] and not keys["minions_pre"], keys
    for host in ("hap1", "web1"):
        own = json.loads(mlab.ssh(host, "/opt/salt/bin/salt-call --local --out=json key.finger").stdout)["local"]
        assert SEEN["started"]["hosts"][host] == {"ok": True, "fingerprint": own}


def test_master_converges_fresh_hosts_then_verify_passes_and_provision_changes_nothing(mlab):
    results = mlab.salt("*", "state.apply")
    assert sorted(results) == ["hap1", "web1"], results
    for host, states in results.items():
        assert isinstance(states, dict) and not not_true(states), (host, states if not isinstance(states, dict)
                                                                  else not_true(states))
        assert changed(states), host  # fresh hosts: the master did the work
    SEEN["fresh"] = results
    verify = mlab.inv("verify", "--json", "--settle", "20", timeout=600)
    report = json.loads(verify.stdout)
    assert verify.returncode == 0 and report["ok"], [c for c in report["checks"] if not c["ok"]]
    again = mlab.inv("provision", "--json")
    doc = json.loads(again.stdout)
    assert again.returncode == 0 and doc["summary"]["changed"] == 0 and doc["summary"]["failed"] == 0, \
        {h: changed(r) for h, r in doc["hosts"].items()}


def set_line(the_lab, old, new):
    path = os.path.join(the_lab.inventory.root, "files", "haproxy", "haproxy.cfg")
    with open(path) as f:
        text = f.read()
    assert text.count(old) == 1, old
    with open(path, "w") as f:
        f.write(text.replace(old, new))


def test_a_template_line_change_applied_by_the_master_is_what_check_predicted_and_what_hafab_does(mlab):
    set_line(mlab, OLD_LINE, NEW_LINE)
    check = mlab.inv("provision", "--check", "--json")
    assert check.returncode == 0, check.stderr[-2000:]
    predicted = {h: changed(r) for h, r in json.loads(check.stdout)["hosts"].items()}
    assert predicted["hap1"] and not predicted["web1"], predicted
    mlab.export()
    by_master = mlab.salt("*", "state.apply")
    assert {h: changed(r) for h, r in by_master.items()} == predicted
    assert all(not not_true(r) for r in by_master.values())

    # The same change once more, made by hafab: back to the old line (by the master), then hafab's run.
    set_line(mlab, NEW_LINE, OLD_LINE)
    mlab.export()
    back = mlab.salt("*", "state.apply")
    assert {h: changed(r) for h, r in back.items()} == predicted
    set_line(mlab, OLD_LINE, NEW_LINE)
    by_hafab = mlab.inv("provision", "--json")
    assert by_hafab.returncode == 0, by_hafab.stderr[-2000:]
    hafab_hosts = json.loads(by_hafab.stdout)["hosts"]
    for host in ("hap1", "web1"):
        assert outline(by_master[host]) == outline(hafab_hosts[host]), host
    SEEN["agreement"] = {h: outline(by_master[h]) for h in ("hap1", "web1")}
    print("master vs hafab, hap1:", [(k.split("_|-")[1], r, c) for k, r, c in SEEN["agreement"]["hap1"] if c])


def test_salt_ssh_with_the_exported_roster_applies_the_tree_to_a_fresh_host_as_the_master_did(mlab):
    assert mlab.inv("lab.down", "--host", "web1").returncode == 0
    up = mlab.inv("lab.up", timeout=1800)
    assert up.returncode == 0, up.stderr[-2000:]
    netguard.require_lab_route(mlab.address("web1"), lab.bridge_name(mlab.inventory))
    done = subprocess.run(saltmaster.command(mlab.inventory, "salt-ssh", "--roster-file",
                                             os.path.join(mlab.out, "roster"), "--priv",
                                             sshconfig.key_path(mlab.inventory), "--out=json", "--static",
                                             "web1", "state.apply"),
                          capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL)
    try:
        results = json.loads(done.stdout)["web1"]
    except (ValueError, KeyError):
        raise AssertionError(f"salt-ssh: exit {done.returncode}: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    assert isinstance(results, dict) and not not_true(results), results
    assert outline(results) == outline(SEEN["fresh"]["web1"])


def test_a_key_that_is_not_the_hosts_own_is_deleted_and_only_that_host_fails(mlab):
    # web1 was rebuilt: the master still holds the old web1's accepted key, the new minion has its own.
    stale = mlab.inv("salt.master", "--export", mlab.out)
    assert stale.returncode == 1, stale.stderr[-2000:]
    lines = [line for line in stale.stderr.splitlines() if "not the host's own" in line]
    assert lines and all(line.startswith("web1: ") for line in lines), stale.stderr
    keys = json.loads(subprocess.run(saltmaster.command(mlab.inventory, "salt-key", "--out=json", "-L"),
                                     capture_output=True, text=True, timeout=60).stdout)
    assert keys["minions"] == ["hap1"] and "web1" not in keys["minions_pre"], keys
    assert mlab.ssh("web1", "systemctl is-active hafab-salt-minion").stdout.strip() != "active"
    again = mlab.inv("salt.master", "--export", mlab.out)
    assert again.returncode == 0, again.stderr[-2000:]
    assert mlab.salt("web1", "test.ping") == {"web1": True}


def test_down_leaves_nothing_running_and_lab_down_stops_a_master(mlab):
    pid = SEEN["started"]["master"]["pid"]
    down = mlab.inv("salt.master", "--down")
    assert down.returncode == 0, down.stderr[-2000:]
    assert not session_pids(pid) and not os.path.exists(saltmaster.master_dir(mlab.inventory))
    for host in ("hap1", "web1"):
        left = mlab.ssh(host, "systemctl is-active hafab-salt-minion; test -e /opt/salt -o -e /etc/salt && echo left")
        assert left.stdout.split() == ["inactive"], (host, left.stdout)
    again = saltmaster.start(mlab.inventory, mlab.out, progress=lambda _: None)
    assert session_pids(again["pid"])
    lab.down(mlab.inventory, progress=lambda _: None)
    assert not session_pids(again["pid"])
