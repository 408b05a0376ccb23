"""The local lab, for real: systemd-nspawn hosts on a bridge, reached over SSH (run as root: pytest -m lab)."""

import json
import os
import socket
import subprocess
import time

import pytest

from hafab import lab
from hafab.lab import netguard
from hafab.lab import names

pytestmark = pytest.mark.lab

KEEPALIVED_CONF = """\
vrrp_instance VI_1 {{
  state BACKUP
  interface eth1
  virtual_router_id 77
  priority {priority}
  advert_int 1
  virtual_ipaddress {{
    {vip}/24
  }}
}}
"""


def _vip_holders(lab77):
    vip = lab77.inventory.cluster["vip"]
    holders = []
    for lb in lab77.inventory.lbs():
        out = subprocess.run(["ip", "-n", lab.host_netns(lab77.inventory, lb.name), "-4", "-o", "addr"],
                             capture_output=True, text=True).stdout
        if f" {vip}/" in out:
            holders.append(lb.name)
    return holders


def _answers_tcp(lab77, host, port=22):
    netguard.require_lab_route(lab77.address(host), lab.bridge_name(lab77.inventory))
    try:
        with socket.create_connection((lab77.address(host), port), timeout=1):
            return True
    except OSError:
        return False


def test_every_host_answers_ssh_with_its_own_name_and_address(lab77):
    for host in lab77.inventory.hosts:
        result = lab77.ssh(host, "hostname; ip -4 -o addr show dev eth1")
        assert result.returncode == 0, result.stderr
        name, addresses = result.stdout.split("\n", 1)
        assert name == host
        assert f" {lab77.address(host)}/24 " in addresses


def test_hosts_have_their_own_identity(lab77):
    ids = {lab77.ssh(h, "cat /etc/machine-id").stdout.strip() for h in lab77.inventory.hosts}
    assert len(ids) == len(lab77.inventory.hosts) and "" not in ids
    with open(os.path.join(lab.lab_dir(lab77.inventory), "known_hosts")) as f:
        keys = {line.split()[2] for line in f if line.strip()}
    assert len(keys) == len(lab77.inventory.hosts)


def test_status_json_has_the_contract_shape(lab77, run_inv):
    result = run_inv("lab.status", "--json", "--inventory", lab77.path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"bridge", "subnet", "hosts", "vip_holder", "multicast"}
    assert report["bridge"] == names.bridge(lab77.inventory) and len(report["bridge"]) <= 15
    assert report["subnet"] == "192.168.77.0/24"
    assert report["hosts"]["web1"] == {"state": "running", "address": "192.168.77.21", "ssh": True}
    assert all(h["state"] == "running" and h["ssh"] for h in report["hosts"].values())


def test_lab_up_again_keeps_running_hosts(lab77, run_inv):
    before = lab.status(lab77.inventory)
    with open(names.state_path(lab77.inventory)) as f:
        pids = {h: r["pid"] for h, r in json.load(f)["hosts"].items()}
    result = run_inv("lab.up", "--inventory", lab77.path)
    assert result.returncode == 0, result.stderr
    with open(names.state_path(lab77.inventory)) as f:
        assert {h: r["pid"] for h, r in json.load(f)["hosts"].items()} == pids
    assert lab.status(lab77.inventory) == before


def test_a_package_installs_offline_in_one_host_only(lab77):
    assert "default" not in lab77.ssh("web1", "ip route").stdout  # no way out: only the local repository
    result = lab77.ssh("web1", "DEBIAN_FRONTEND=noninteractive apt-get install -y -q psmisc")
    assert result.returncode == 0, result.stdout + result.stderr
    assert lab77.ssh("web1", "command -v killall").returncode == 0
    for other in ("web2", "hap1"):
        assert lab77.ssh(other, "dpkg -s psmisc").returncode != 0


def test_keepalived_puts_the_vip_on_exactly_one_lb(lab77):
    vip = lab77.inventory.cluster["vip"]
    for lb in lab77.inventory.lbs():
        conf = KEEPALIVED_CONF.format(priority=lb.priority, vip=vip)
        result = lab77.ssh(lb.name, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q keepalived"
                                    f" && cat > /etc/keepalived/keepalived.conf <<'EOF'\n{conf}EOF\n"
                                    " systemctl restart keepalived && systemctl is-active keepalived")
        assert result.returncode == 0, result.stdout + result.stderr
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(_vip_holders(lab77)) != 1:
        time.sleep(0.2)
    time.sleep(2)  # a settled election, not a moment of it
    holders = _vip_holders(lab77)
    assert holders == ["hap1"], holders  # both start as BACKUP: the higher priority wins
    assert lab.status(lab77.inventory)["vip_holder"] == "hap1"


def test_stop_is_a_real_outage_and_start_brings_the_host_back_with_its_files(lab77, run_inv):
    assert lab77.ssh("web2", "echo kept > /root/marker").returncode == 0
    result = run_inv("lab.stop", "web2", "--inventory", lab77.path)
    assert result.returncode == 0, result.stderr
    assert not os.path.exists(names.netns_path(lab77.inventory, "web2"))
    assert not os.path.exists(f"/sys/class/net/{names.veth(lab77.inventory, 'web2')}")
    assert not _answers_tcp(lab77, "web2")
    assert lab.status(lab77.inventory)["hosts"]["web2"] == {"state": "stopped", "address": "192.168.77.22",
                                                            "ssh": False}
    result = run_inv("lab.start", "web2", "--inventory", lab77.path)
    assert result.returncode == 0, result.stderr
    back = lab77.ssh("web2", "hostname; cat /root/marker")
    assert back.stdout.split() == ["web2", "kept"]


def test_stop_takes_the_vip_away_with_the_host(lab77):
    holders = _vip_holders(lab77)
    if holders != ["hap1"]:
        pytest.fail(f"needs the VIP on hap1 (keepalived test), found {holders}")
    lab.stop_host(lab77.inventory, "hap1", power_cut=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _vip_holders(lab77) != ["hap2"]:
        time.sleep(0.2)
    assert _vip_holders(lab77) == ["hap2"]
    lab.start_host(lab77.inventory, "hap1")
    assert lab77.ssh("hap1", "systemctl is-active keepalived").stdout.strip() == "active"


def test_lab_up_refuses_a_subnet_routed_through_another_interface(tmp_path, run_inv):
    routes = json.loads(subprocess.run(["ip", "-j", "-4", "route", "show"], capture_output=True, text=True).stdout)
    taken = next((r for r in routes if r.get("dst", "default") != "default" and "/" in r["dst"]
                  and int(r["dst"].split("/")[1]) <= 29 and r.get("dev") != "lo"), None)
    assert taken, f"no connected route on this machine to test with: {routes}"
    net = taken["dst"].rsplit(".", 1)[0]  # the first three octets of a /24 or wider route
    (tmp_path / "hosts.yaml").write_text(
        f"cluster: {{vip: {net}.200, subnet: {net}.192/26, interface: eth1, virtual_router_id: 9}}\n"
        f"hosts: {{hap1: {{address: {net}.201, roles: [lb], priority: 100}}}}\n")
    result = run_inv("lab.up", "--inventory", str(tmp_path / "hosts.yaml"))
    assert result.returncode == 2
    assert "already routed" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / ".lab").exists()


def test_lab_tasks_refuse_when_the_lab_is_not_up(tmp_path, run_inv):
    (tmp_path / "hosts.yaml").write_text(
        "cluster: {vip: 192.168.78.10, subnet: 192.168.78.0/24, interface: eth1, virtual_router_id: 9}\n"
        "hosts: {web1: {address: 192.168.78.21, roles: [web]}}\n")
    result = run_inv("lab.stop", "web1", "--inventory", str(tmp_path / "hosts.yaml"))
    assert result.returncode == 2 and "not up" in result.stderr
    with pytest.raises(Exception, match="not the lab bridge"):
        netguard.require_lab_route("192.168.78.21", "hafab-000000")


def test_down_leaves_no_machine_netns_bridge_mount_or_process(lab77, run_inv, snapshot):
    before = snapshot()
    ours = names.netns(lab77.inventory, "")
    result = run_inv("lab.down", "--inventory", lab77.path)
    assert result.returncode == 0, result.stderr
    after = snapshot()
    assert not {ns for ns in after["netns"] if ns.startswith(ours)}
    assert after["netns"] == {ns for ns in before["netns"] if not ns.startswith(ours)}
    assert names.bridge(lab77.inventory) not in after["bridges"]
    assert not lab.is_up(lab77.inventory)
    data_dir = names.lab_data_dir(lab77.inventory)
    with open("/proc/self/mountinfo") as f:
        assert not [line for line in f if data_dir in line]
    assert _processes_under(data_dir) == []


def _processes_under(data_dir):
    """Live processes whose root or command line lies in the lab's data dir (a host's own processes)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
            root = os.readlink(f"/proc/{pid}/root")
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if root.startswith(data_dir) or data_dir in cmdline:
            found.append((int(pid), cmdline))
    return found
