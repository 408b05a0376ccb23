"""Web servers added and removed live, on a lab of its own (192.168.91.0/24), provisioned once for the module:
lab.up of an inventory that gained web3 boots web3 only; provision under 100 req/s through the VIP adds it
(0 failed requests) and it serves; with web3 gone from hosts.yaml, provision under load drains it on every LB
and drops it (0 failed, nothing reaches web3 after its drain, web3 is never contacted); lab.down --host
removes it from the lab while the others keep running. Last, the live VRRP mode switch: unicast -> multicast
-> unicast, each provisioned under 100 req/s: 0 failed requests, the VIP never moves (the other LB held in
FAULT while the holder switches), one MASTER, verify passes (issue 15). The lab
is torn down even when a test fails."""

import collections
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import pytest

from hafab import lab
from hafab.cluster import haproxy, keepalived, probe
from hafab.cluster import inventory as inventory_mod
from hafab.lab import host, names, network
from hafab.outage import load
from tests.lab.conftest import CLUSTER_PREFIX, REPO, Cluster, inv, require_lab

pytestmark = pytest.mark.lab

PREFIX = "192.168.91"
WEB3 = f"  web3:\n    address: {PREFIX}.23\n    roles: [web]\n"
ACCESS_LOG = "/var/log/apache2/access.log"
LOG_TIME = re.compile(r'\[([^]]+)\] "GET ')


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The seed cluster on 192.168.91.0/24, up and provisioned; torn down in `finally`, web3 or not."""
    require_lab()
    if CLUSTER_PREFIX == PREFIX:
        pytest.fail(f"HAFAB_TEST_CLUSTER_PREFIX={PREFIX}: this module's own lab is on {PREFIX}.0/24, pick another")
    root = str(tmp_path_factory.mktemp("weblive"))
    for name in ("states", "files"):
        shutil.copytree(os.path.join(REPO, name), os.path.join(root, name))
    with open(os.path.join(REPO, "hosts.yaml")) as f:
        seed = f.read().replace("192.168.50.", PREFIX + ".").replace("virtual_router_id: 51", "virtual_router_id: 91")
    path = os.path.join(root, "hosts.yaml")
    write(path, seed)
    inventory = inventory_mod.load(path)
    try:
        up = inv("lab.up", "--inventory", path, timeout=1800)
        assert up.returncode == 0, up.stderr
        first = inv("provision", "--inventory", path, timeout=1800)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        cluster = Cluster(path=path, inventory=inventory, root=root)
        cluster.seed = seed
        yield cluster
    finally:
        lab.down(inventory_mod.load(path), progress=lambda _: None)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def records(cluster):
    with open(names.state_path(cluster.inventory)) as f:
        return json.load(f)["hosts"]


def under_load(cluster, action):
    """Run action() under 100 req/s through the VIP; (its result, the samples)."""
    traffic = load.Load(probe.Prober(cluster.inventory), cluster.inventory.cluster["vip"], rate=100,
                        timeout=2.0, max_seconds=400).start()
    try:
        time.sleep(1)
        result = action()
        time.sleep(1)
    finally:
        samples = traffic.stop()
    return result, samples


def backend_on(cluster, lb):
    out = cluster.ssh(lb, haproxy.runtime_command("show stat", timeout=5)).stdout
    return {row["svname"]: row["status"] for row in haproxy.parse_stats_csv(out)
            if row.get("pxname") == haproxy.BACKEND and row["svname"] not in haproxy.SERVER_ROWS_EXCLUDED}


def test_lab_up_of_an_inventory_with_web3_added_boots_web3_only(live):
    before = records(live)
    write(live.path, live.seed + WEB3)
    live.inventory = inventory_mod.load(live.path)
    result = inv("lab.up", "--inventory", live.path, timeout=900)
    assert result.returncode == 0, result.stderr
    assert "lab: web3 booting" in result.stderr and "(1 booted)" in result.stderr, result.stderr
    after = records(live)
    assert {h: (r["pid"], r["started"]) for h, r in after.items() if h != "web3"} == \
           {h: (r["pid"], r["started"]) for h, r in before.items()}
    assert host.running(after["web3"]) and after["web3"]["address"] == f"{PREFIX}.23"
    assert live.ssh("web3", "hostname").stdout.strip() == "web3"


def test_provision_under_load_adds_web3_first_then_every_lb_and_it_serves(live):
    result, samples = under_load(live, lambda: live.inv("provision", timeout=900))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    failed = [s for s in samples if s.failed]
    assert len(samples) > 100 and not failed, failed[:5]
    for lb in ("hap1", "hap2"):
        assert f"{lb}: web3 is new and answers on port 80: adding it" in result.stderr, result.stderr
        assert backend_on(live, lb).get("web3") == "UP"
    prober = probe.Prober(live.inventory)
    served = collections.Counter(prober.get(live.inventory.cluster["vip"]).server for _ in range(30))
    assert served["web3"] > 0, served


def provision_watching_drain(cluster, tmp_path):
    """`inv provision --json`, noting when its progress says web3 was drained; (rc, doc, stderr, drained_at)."""
    out_path = tmp_path / "provision.json"
    with open(out_path, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "invoke", "provision", "--inventory", cluster.path, "--json"],
                                cwd=REPO, stdout=out, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend((time.time(), line) for line in proc.stderr))
        reader.start()
        try:
            proc.wait(timeout=900)
        finally:
            if proc.poll() is None:
                proc.kill()
            reader.join(timeout=10)
    drained = [at for at, line in lines if "web3: drained in HAProxy" in line]
    return proc.returncode, json.loads(out_path.read_text() or "{}"), "".join(l for _, l in lines), drained


def web3_gets(with_web3):
    """Epoch seconds of every client GET in web3's access log (HAProxy's checks are not logged), read from
    its root on this machine: web3 is no host of hosts.yaml any more."""
    with open(os.path.join(host.root_dir(with_web3, "web3"), ACCESS_LOG.lstrip("/"))) as f:
        text = f.read()
    return [datetime.datetime.strptime(m, "%d/%b/%Y:%H:%M:%S %z").timestamp() for m in LOG_TIME.findall(text)]


def test_web3_removed_is_drained_on_every_lb_then_dropped_under_load(live, tmp_path):
    with_web3 = live.inventory
    write(live.path, live.seed)
    live.inventory = inventory_mod.load(live.path)
    started = time.time()
    (code, doc, stderr, drained), samples = under_load(live, lambda: provision_watching_drain(live, tmp_path))
    assert code == 0, stderr[-3000:]
    failed = [s for s in samples if s.failed]
    assert len(samples) > 100 and not failed, failed[:5]
    assert "web3: not a web server of hosts.yaml any more: draining it on every LB" in stderr, stderr
    assert len(drained) == 1, stderr
    assert "web3" not in doc["hosts"]                       # hafab never touched the removed host
    gets = web3_gets(with_web3)
    assert [t for t in gets if t >= int(started)], "web3 served nothing before its drain: the test proves nothing"
    assert not [t for t in gets if t > int(drained[0])], (gets[-5:], drained)
    for lb in ("hap1", "hap2"):
        assert "web3" not in backend_on(live, lb)
    live.with_web3 = with_web3


def test_lab_down_host_removes_web3_gone_from_hosts_yaml_and_keeps_the_others(live):
    with_web3 = getattr(live, "with_web3", None) or inventory_mod.load(live.path)
    before = records(live)
    result = inv("lab.down", "--inventory", live.path, "--host", "web3", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "lab: web3 removed" in result.stderr
    after = records(live)
    assert "web3" not in after
    assert {h: (r["pid"], r["started"]) for h, r in after.items()} == \
           {h: (r["pid"], r["started"]) for h, r in before.items() if h != "web3"}
    assert not network.netns_exists(with_web3, "web3") and not network.link_exists(names.veth(with_web3, "web3"))
    assert not os.path.exists(names.host_dir(with_web3, "web3"))
    assert lab.status(live.inventory)["vip_holder"] in ("hap1", "hap2")
    again = inv("lab.down", "--inventory", live.path, "--host", "web3", timeout=60)
    assert again.returncode == 2 and again.stderr.strip().endswith(
        "hosts: no host named 'web3', and the lab runs none by that name"), again.stderr


def vrrp_states(cluster):
    return {lb: cluster.ssh(lb, keepalived.state_command()).stdout.strip() for lb in ("hap1", "hap2")}


def vip_holders(cluster):
    vip = cluster.inventory.cluster["vip"]
    return [lb for lb in ("hap1", "hap2") if cluster.ssh(lb, keepalived.holds_vip_command(vip)).returncode == 0]


def transitions_since(cluster, lb, epoch):
    """The VRRP states `lb` went through since `epoch` (notify.sh's transitions log; lab hosts share the clock)."""
    lines = cluster.ssh(lb, "cat /run/keepalived/transitions").stdout.split("\n")
    return [line.split()[0] for line in lines if line.strip() and float(line.split()[1]) >= epoch]


@pytest.mark.parametrize("mode", ["multicast", "unicast"])
def test_the_vrrp_mode_switched_live_under_load_fails_no_request(live, mode):
    before = live.seed if mode == "unicast" else live.seed.replace("vrrp: unicast", "vrrp: multicast")
    assert ("vrrp: " + mode) in before, "the seed's hosts.yaml no longer names its vrrp mode"
    write(live.path, before)
    live.inventory = inventory_mod.load(live.path)
    holders, started = vip_holders(live), time.time()
    assert len(holders) == 1, holders
    result, samples = under_load(live, lambda: live.inv("provision", timeout=900))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    failed = [s for s in samples if s.failed]
    assert len(samples) > 100 and not failed, failed[:5]
    for lb in ("hap1", "hap2"):
        conf = live.ssh(lb, f"cat {keepalived.CONFIG}").stdout
        assert ("unicast_peer" in conf) is (mode == "unicast"), conf[-800:]
    assert sorted(vrrp_states(live).values()) == ["BACKUP", "MASTER"]
    # the VIP never moved: the other LB was held in FAULT while the holder switched, never MASTER
    assert vip_holders(live) == holders, result.stderr[-3000:]
    other = ({"hap1", "hap2"} - set(holders)).pop()
    went = transitions_since(live, other, started)
    assert "FAULT" in went and "MASTER" not in went and went[-1] == "BACKUP", went
    assert f"{other}: VRRP mode switch" in result.stderr and f"{other}: VRRP hold released" in result.stderr
    verified = live.inv("verify", "--settle", "20", timeout=120)
    assert verified.returncode == 0, verified.stdout[-3000:]
