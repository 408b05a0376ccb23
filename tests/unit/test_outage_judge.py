"""The seed's outage table as rules: expectation and judgement of each scenario, cluster health, flags."""

import os

import pytest

from hafab import outage
from hafab.outage import drill
from hafab.engine.errors import InputError
from hafab.cluster.inventory import load
from hafab.outage.load import Sample

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def inventory():
    return load(os.path.join(REPO, "hosts.yaml"))


def served(*servers, n=20):
    return [Sample(float(i), 200, servers[i % len(servers)], 0.002) for i in range(n)]


def answered(status, n=20):
    return [Sample(float(i), status, "503 Service Unavailable", 0.001) for i in range(n)]


def dark(n=20):
    return [Sample(float(i), None, None, 1.0, "refused") for i in range(n)]


# --- the seed's six lines -------------------------------------------------------------------------

def test_web1_down_all_served_by_web2(inventory):
    expect = outage.expectation(inventory, ["web1"], "hap1")
    assert expect.mode == "served" and expect.webs_alive == ["web2"]
    assert "web2" in expect.text
    assert outage.judge(expect, served("web2"), ("hap1",)) == (True, [])
    held, reasons = outage.judge(expect, served("web1", "web2"), ("hap1",))
    assert not held and "served by web1" in reasons[0]


def test_web2_down_all_served_by_web1(inventory):
    expect = outage.expectation(inventory, ["web2"], "hap1")
    assert outage.judge(expect, served("web1"), ("hap1",))[0]
    assert not outage.judge(expect, served("web2"), ("hap1",))[0]


def test_both_webs_down_503_expected(inventory):
    expect = outage.expectation(inventory, ["web1", "web2"], "hap1")
    assert expect.mode == "503" and "503" in expect.text
    assert outage.judge(expect, answered(503), ("hap1",)) == (True, [])
    held, reasons = outage.judge(expect, dark(), ("hap1",))
    assert not held and "no answer" in reasons[0]
    assert not outage.judge(expect, served("web1"), ("hap1",))[0]


def test_hap1_down_vip_moves_to_hap2_and_service_goes_on(inventory):
    expect = outage.expectation(inventory, ["hap1"], "hap1")
    assert expect.lbs_alive == ["hap2"] and expect.keeper is None
    assert "hap2" in expect.text and "service goes on" in expect.text
    assert outage.judge(expect, served("web1", "web2"), ("hap2",))[0]
    held, reasons = outage.judge(expect, served("web1", "web2"), ("hap1",))
    assert not held and "which is down" in reasons[0]
    held, reasons = outage.judge(expect, dark(), ())
    assert not held and any("no LB holds" in r for r in reasons)


def test_hap2_down_hap1_keeps_it(inventory):
    expect = outage.expectation(inventory, ["hap2"], "hap1")
    assert expect.keeper == "hap1" and "hap1 keeps the VIP" in expect.text
    assert outage.judge(expect, served("web1", "web2"), ("hap1",))[0]


def test_backup_down_while_it_holds_the_vip_hands_it_back(inventory):
    # after "hap1 down" with nopreempt hap2 keeps the VIP; breaking hap2 then moves it to hap1
    expect = outage.expectation(inventory, ["hap2"], "hap2")
    assert expect.keeper is None and expect.lbs_alive == ["hap1"]
    assert outage.judge(expect, served("web1", "web2"), ("hap1",))[0]


def test_keeper_must_not_lose_the_vip(inventory):
    expect = outage.expectation(inventory, ["web1"], "hap1")
    held, reasons = outage.judge(expect, served("web2"), ("hap2",))
    assert not held and "moved from hap1 to hap2" in reasons[0]


def test_both_lbs_down_service_down(inventory):
    expect = outage.expectation(inventory, ["hap1", "hap2"], "hap1")
    assert expect.mode == "down" and "service down" in expect.text
    assert outage.judge(expect, dark(), ()) == (True, [])
    held, reasons = outage.judge(expect, served("web1"), ("hap2",))
    assert not held and len(reasons) == 2


def test_split_brain_is_not_held(inventory):
    expect = outage.expectation(inventory, ["web1"], "hap1")
    held, reasons = outage.judge(expect, served("web2"), ("hap1", "hap2"))
    assert not held and "several LBs" in reasons[0]


def test_failures_in_the_settled_part_are_not_held(inventory):
    expect = outage.expectation(inventory, ["hap1"], "hap1")
    tail = served("web1", "web2") + dark(3)
    held, reasons = outage.judge(expect, tail, ("hap2",))
    assert not held and "3 of 23 requests got no answer" in reasons[0]


def test_too_few_requests_cannot_be_judged(inventory):
    expect = outage.expectation(inventory, ["web1"], "hap1")
    held, reasons = outage.judge(expect, served("web2", n=2), ("hap1",))
    assert not held and "too few" in reasons[0]


def test_a_killed_service_that_systemd_restarted_counts_as_up(inventory):
    expect = outage.expectation(inventory, ["web1", "web2"], "hap1", healed=["web1", "web2"])
    assert expect.mode == "served"
    assert outage.judge(expect, served("web1", "web2"), ("hap1",))[0]
    assert any("came back by itself" in n for n in expect.notes)
    # a killed LB's haproxy came back, but the VIP went to hap2 meanwhile: fine, hap1 is not a keeper
    expect = outage.expectation(inventory, ["hap1"], "hap1", healed=["hap1"])
    assert outage.judge(expect, served("web1", "web2"), ("hap2",))[0]


def test_tail_seconds():
    assert outage.tail_seconds(5) == 1.5
    assert outage.tail_seconds(2) == 0.6
    assert outage.tail_seconds(0.5) == 0.5


# --- flags -----------------------------------------------------------------------------------------

def test_check_request(inventory):
    assert outage.check_request(inventory, ["web2", "web1"], "service", "5", "200") == \
        (["web1", "web2"], "service", 5.0, 200.0)
    for hosts, kind, duration, rate, where in [
            (["web9"], "service", 5, 200, "hosts.yaml"), ([], "service", 5, 200, "--host"),
            (["web1"], "reboot", 5, 200, "--kind"), (["web1"], "service", 0, 200, "--duration"),
            (["web1"], "service", 5, 0, "--rate"), (["web1"], "service", "x", 200, "--duration/--rate")]:
        with pytest.raises(InputError) as err:
            outage.check_request(inventory, hosts, kind, duration, rate)
        assert err.value.where == where


def test_units_of_roles(inventory):
    assert outage.units_of(inventory.hosts["web1"]) == ["apache2"]
    assert outage.units_of(inventory.hosts["hap1"]) == ["haproxy"]


def test_scenario_names():
    assert outage.scenario_name(["web1"], "service") == "web1 down"
    assert outage.scenario_name(["hap1", "hap2"], "service") == "hap1+hap2 down"
    assert outage.scenario_name(["hap1"], "host") == "hap1 down (host)"


def test_drill_has_the_seven_scenarios(inventory):
    assert drill.scenarios(inventory) == [
        (["web1"], "service"), (["web2"], "service"), (["web1", "web2"], "service"),
        (["hap1"], "service"), (["hap2"], "service"), (["hap1", "hap2"], "service"), (["hap1"], "host")]


# --- health after a restore -------------------------------------------------------------------------

LB_UP = "vip {vip}\nunit haproxy active\nunit keepalived active\nvrrp {vrrp}\nserver web1 UP\nserver web2 UP\n"


def healthy_facts(holder="hap1"):
    facts = {}
    for lb in ("hap1", "hap2"):
        mine = lb == holder
        facts[lb] = outage.parse_health(LB_UP.format(vip=int(mine), vrrp="MASTER" if mine else "BACKUP"))
    for web in ("web1", "web2"):
        facts[web] = outage.parse_health("unit apache2 active\n")
    return facts


def test_parse_health():
    facts = outage.parse_health(LB_UP.format(vip=1, vrrp="MASTER"))
    assert facts == {"vip": True, "units": {"haproxy": "active", "keepalived": "active"}, "vrrp": "MASTER",
                     "servers": {"web1": "UP", "web2": "UP"}}


def test_healthy_with_either_holder_without_preempt(inventory):
    assert outage.evaluate_health(inventory, healthy_facts("hap1")) == (True, [], "hap1")
    assert outage.evaluate_health(inventory, healthy_facts("hap2")) == (True, [], "hap2")


def test_preempt_wants_the_highest_priority(inventory):
    import copy
    preempting = copy.deepcopy(inventory)
    preempting.cluster["preempt"] = True
    ok, problems, _ = outage.evaluate_health(preempting, healthy_facts("hap2"))
    assert not ok and "hap1 (priority 101) should hold the VIP" in problems[0]


def test_unhealthy_cases(inventory):
    facts = healthy_facts()
    facts["hap1"]["servers"]["web1"] = "DOWN"
    facts["web2"] = "unreachable: timed out"
    facts["hap2"]["units"]["keepalived"] = "inactive"
    ok, problems, holder = outage.evaluate_health(inventory, facts)
    assert not ok and holder == "hap1"
    assert "web2: unreachable: timed out" in problems
    assert "hap2: keepalived is inactive" in problems
    assert "hap1: haproxy sees web1 DOWN, not UP" in problems
    facts = healthy_facts()
    facts["hap2"]["vip"] = True
    ok, problems, holder = outage.evaluate_health(inventory, facts)
    assert not ok and holder is None and "several LBs hold the VIP: hap1, hap2" in problems
    facts = healthy_facts()
    facts["hap1"]["vip"] = False
    assert "no LB holds the VIP" in outage.evaluate_health(inventory, facts)[1]


def test_health_script_names_vip_and_units(inventory):
    script = outage.health_script(inventory, inventory.hosts["hap1"])
    assert f' {inventory.cluster["vip"]}/' in script and "admin.sock" in script and "keepalived" in script
    assert "apache2" in outage.health_script(inventory, inventory.hosts["web1"])


# --- report text and drill table --------------------------------------------------------------------

REPORT = {"scenario": "web1 down", "hosts": ["web1"], "kind": "service", "expected": "every request served by web2",
          "ok": True, "held": True, "reasons": [],
          "probe": {"requests": 1000, "failed": 0, "window_ms": 0.0, "served_by": {"web2": 1000},
                    "statuses": {"200": 1000}, "errors": {}},
          "vip_holder": {"before": "hap1", "during": "hap1", "after": "hap1"}, "restored": True,
          "vip_moved_ms": None,
          "restore": {"requests": 400, "failed": 0, "window_ms": 0.0, "seconds": 1.2, "problems": []}}


def test_text_and_table():
    assert "web1 down: held" in outage.text(REPORT)
    assert "served by web2 1000" in outage.text(REPORT)
    bad = dict(REPORT, ok=False, held=False, reasons=["served by web1, expected only web2"])
    table = drill.table({"ok": False, "scenarios": [REPORT, bad]})
    lines = table.splitlines()
    assert lines[0].split()[:5] == ["scenario", "held", "requests", "failed", "window"]
    assert "web1 down" in lines[2] and " yes " in lines[2] and "hap1>hap1>hap1" in lines[2]
    assert " NO " in lines[3]
    assert "NOT every scenario held" in lines[-1]
