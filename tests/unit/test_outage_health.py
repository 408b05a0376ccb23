"""Is the cluster healthy after a restore (or before an outage)? The health script's facts, judged."""

import copy
import os

import pytest

from hafab.cluster.inventory import load as load_inventory
from hafab.outage import health

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def inventory():
    return load_inventory(os.path.join(REPO, "hosts.yaml"))


LB_UP = "vip {vip}\nunit haproxy active\nunit keepalived active\nvrrp {vrrp}\nserver web1 UP\nserver web2 UP\n"


def healthy_facts(holder="hap1"):
    facts = {}
    for lb in ("hap1", "hap2"):
        mine = lb == holder
        facts[lb] = health.parse_health(LB_UP.format(vip=int(mine), vrrp="MASTER" if mine else "BACKUP"))
    for web in ("web1", "web2"):
        facts[web] = health.parse_health("unit apache2 active\n")
    return facts


def test_parse_health():
    facts = health.parse_health(LB_UP.format(vip=1, vrrp="MASTER"))
    assert facts == {"vip": True, "units": {"haproxy": "active", "keepalived": "active"}, "vrrp": "MASTER",
                     "servers": {"web1": "UP", "web2": "UP"}}


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


def test_health_script_names_vip_and_units(inventory):
    script = health.health_script(inventory, inventory.hosts["hap1"])
    assert f' {inventory.cluster["vip"]}/' in script and "admin.sock" in script and "keepalived" in script
    assert "apache2" in health.health_script(inventory, inventory.hosts["web1"])
