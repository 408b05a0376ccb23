"""Is the cluster healthy after a restore (or before an outage)? The health script's facts, judged."""

import copy
import os

import pytest

from hafab.cluster import haproxy, keepalived
from hafab.cluster.inventory import load as load_inventory
from hafab.outage import health

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def inventory():
    return load_inventory(os.path.join(REPO, "hosts.yaml"))


STAT_HEADER = ("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,"
               "status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,"
               "type")


def stat_row(proxy, server, status):
    return f"{proxy},{server}," + "0," * 15 + f"{status},1,1,0,0,0,5,0,,1,2,1,,0,,2"


def show_stat(servers):
    """HAProxy's `show stat` CSV for the seed's config: frontends, the web servers' backend, stats."""
    rows = [STAT_HEADER, stat_row("http-in", "FRONTEND", "OPEN")]
    rows += [stat_row("webservers", name, status) for name, status in servers.items()]
    rows += [stat_row("webservers", "BACKEND", "UP"), stat_row("stats", "FRONTEND", "OPEN"),
             stat_row("stats", "BACKEND", "UP"), ""]
    return "\n".join(rows) + "\n"


def lb_output(vip, vrrp, servers=None):
    """What health_script prints on a load balancer."""
    servers = {"web1": "UP", "web2": "UP"} if servers is None else servers
    return (f"vip {vip}\nunit haproxy active\nunit keepalived active\nvrrp {vrrp}\nstats\n"
            + show_stat(servers))


def healthy_facts(holder="hap1"):
    facts = {}
    for lb in ("hap1", "hap2"):
        mine = lb == holder
        facts[lb] = health.parse_health(lb_output(int(mine), "MASTER" if mine else "BACKUP"))
    for web in ("web1", "web2"):
        facts[web] = health.parse_health("unit apache2 active\n")
    return facts


def test_parse_health():
    facts = health.parse_health(lb_output(1, "MASTER"))
    assert facts == {"vip": True, "units": {"haproxy": "active", "keepalived": "active"}, "vrrp": "MASTER",
                     "servers": {"web1": "UP", "web2": "UP"}}


@pytest.mark.parametrize("output,facts", [
    ("unit apache2 active\n", {"vip": False, "units": {"apache2": "active"}, "vrrp": "", "servers": {}}),
    # haproxy down: no CSV after the marker; keepalived in no state yet
    ("vip 0\nunit haproxy failed\nunit keepalived active\nvrrp\nstats\n",
     {"vip": False, "units": {"haproxy": "failed", "keepalived": "active"}, "vrrp": "", "servers": {}}),
    ("unit haproxy\n", {"vip": False, "units": {"haproxy": ""}, "vrrp": "", "servers": {}}),
])
def test_parse_health_of_partial_answers(output, facts):
    assert health.parse_health(output) == facts


@pytest.mark.parametrize("servers,states", [
    ({"web1": "UP", "web2": "DOWN"}, {"web1": "UP", "web2": "DOWN"}),
    ({"web1": "UP 1/2", "web2": "MAINT"}, {"web1": "UP 1/2", "web2": "MAINT"}),
    ({"web1": "no check", "web2": ""}, {"web1": "no check"}),     # an empty status says nothing
    ({}, {}),
])
def test_server_states_of_the_stats_csv(servers, states):
    assert health.server_states(show_stat(servers)) == states


def test_server_states_skip_short_rows_and_garbage():
    short = STAT_HEADER + "\nwebservers,web1,0,0\n" + stat_row("webservers", "web2", "UP") + "\n"
    assert health.server_states(short) == {"web2": "UP"}
    assert health.server_states("Unknown command.\n") == {}
    assert health.server_states("") == {}


@pytest.mark.parametrize("holder", ["hap1", "hap2"])
def test_healthy_with_either_holder_without_preempt(inventory, holder):
    assert health.evaluate_health(inventory, healthy_facts(holder)) == (True, [], holder)


def test_preempt_wants_the_highest_priority(inventory):
    preempting = copy.deepcopy(inventory)
    preempting.cluster["preempt"] = True
    ok, problems, _ = health.evaluate_health(preempting, healthy_facts("hap2"))
    assert not ok and "hap1 (priority 101) should hold the VIP" in problems[0]


def test_unhealthy_units_servers_and_unreachable_hosts(inventory):
    facts = healthy_facts()
    facts["hap1"]["servers"]["web1"] = "DOWN"
    facts["web2"] = "unreachable: timed out"
    facts["hap2"]["units"]["keepalived"] = "inactive"
    ok, problems, holder = health.evaluate_health(inventory, facts)
    assert not ok and holder == "hap1"
    assert "web2: unreachable: timed out" in problems
    assert "hap2: keepalived is inactive" in problems
    assert "hap1: haproxy sees web1 DOWN, not UP" in problems


def test_several_holders_is_unhealthy(inventory):
    facts = healthy_facts()
    facts["hap2"]["vip"] = True
    ok, problems, holder = health.evaluate_health(inventory, facts)
    assert not ok and holder is None and "several LBs hold the VIP: hap1, hap2" in problems


def test_no_holder_is_unhealthy(inventory):
    facts = healthy_facts()
    facts["hap1"]["vip"] = False
    assert "no LB holds the VIP" in health.evaluate_health(inventory, facts)[1]


def test_health_script_of_a_load_balancer(inventory):
    script = health.health_script(inventory, inventory.hosts["hap1"])
    vip = inventory.cluster["vip"]
    assert f"if {keepalived.holds_vip_command(vip, 'eth1')}; then" in script
    assert f' {vip}/' in script and "admin.sock" in script and "keepalived" in script
    assert keepalived.STATE_FILE in script
    lines = script.splitlines()
    assert lines[-2:] == ["echo stats", haproxy.runtime_command("show stat") + " 2>/dev/null"]
    assert "awk" not in script


@pytest.mark.parametrize("host,units", [("hap1", ["haproxy", "keepalived"]), ("web1", ["apache2"])])
def test_health_script_asks_systemd_for_each_unit(inventory, host, units):
    script = health.health_script(inventory, inventory.hosts[host])
    assert [line for line in script.splitlines() if "systemctl is-active" in line] == [
        f'echo "unit {unit} $(systemctl is-active {unit})"' for unit in units]
    assert (f"echo {health.STATS_MARKER}" in script.splitlines()) is (host == "hap1")


def test_health_of_a_host_with_both_roles(inventory):
    both = copy.deepcopy(inventory.hosts["hap1"])
    both.roles = ["lb", "web"]
    script = health.health_script(inventory, both)
    assert script.splitlines()[-1].startswith("echo 'show stat'")   # the CSV comes last
    output = ("vip 1\nunit haproxy active\nunit keepalived active\nunit apache2 active\nvrrp MASTER\nstats\n"
              + show_stat({"web1": "UP"}))
    assert health.parse_health(output)["units"] == {"haproxy": "active", "keepalived": "active", "apache2": "active"}
