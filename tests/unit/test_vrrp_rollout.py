"""The rollout's LB order when several LBs hold the VIP (a split brain, e.g. cluster.vrrp: multicast on a
network that drops multicast, being switched to unicast): no deadlock; non-holders first, then the holders
lowest priority first, one at a time (issue 15)."""

import pytest

from hafab.cluster import rollout
from hafab.cluster.inventory import Host, Inventory


def make(holding, priorities=(101, 100, 99)):
    hosts = {f"hap{i}": Host(f"hap{i}", f"10.0.0.{10 + i}", ["lb"], p) for i, p in enumerate(priorities, 1)}
    inv = Inventory("hosts.yaml", {"vip": "10.0.0.10", "interface": "eth1"}, hosts)
    plan = rollout.Rollout(inv, list(hosts), "ssh_config", lambda host, msg: None, timeout=5)
    holds = plan.vip_command()
    for name in hosts:
        plan.planned(name, True, {holds: 0 if name in holding else 1})
    return plan


def order(plan):
    """Let the LBs in one at a time, as the engine's threads would: each the first that may enter."""
    found = []
    while len(found) < len(plan.registered):
        ready = [h for h in plan.registered if h not in plan.done and plan._may_enter(h, "lb")]
        assert ready, f"deadlock after {found}"
        found.append(ready[0])
        plan.inside["lb"] = ready[0]
        plan._release(ready[0], "lb")
    return found


@pytest.mark.parametrize("holding,priorities,expected", [
    (["hap1"], (101, 100, 99), ["hap2", "hap3", "hap1"]),
    (["hap1", "hap2", "hap3"], (101, 100, 99), ["hap3", "hap2", "hap1"]),
    (["hap1", "hap2"], (101, 100, 99), ["hap3", "hap2", "hap1"]),
    (["hap2", "hap3"], (50, 100, 200), ["hap1", "hap2", "hap3"]),
    (["hap1", "hap2"], (101, 100), ["hap2", "hap1"]),
])
def test_holders_go_last_lowest_priority_first(holding, priorities, expected):
    assert order(make(holding, priorities)) == expected


def test_the_highest_priority_holder_waits_for_the_other_holders():
    plan = make(["hap1", "hap2", "hap3"])
    assert not plan._may_enter("hap1", "lb") and not plan._may_enter("hap2", "lb")
    assert plan._may_enter("hap3", "lb")
