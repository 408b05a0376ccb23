"""verify's vip-holder check names a split brain: who holds the VIP, who is MASTER, and the likely cause
for the cluster's cluster.vrrp (issue 15)."""

import pytest

from hafab.verify import judge_hosts

LBS2 = {"hap1": (101, True), "hap2": (100, True)}
LBS3 = {"hap1": (101, True), "hap2": (100, True), "hap3": (99, True)}
MASTERS = {"hap1": "MASTER", "hap2": "MASTER", "hap3": "MASTER"}

CASES = [
    ("2-lbs-multicast", ["hap2", "hap1"], LBS2, MASTERS, "multicast",
     "split brain: hap1 and hap2 both hold the VIP (keepalived MASTER on hap1, hap2): their VRRP adverts to "
     "224.0.0.18 do not reach each other; if the network drops multicast, set cluster.vrrp: unicast"),
    ("3-lbs-multicast", ["hap1", "hap2", "hap3"], LBS3, MASTERS, "multicast",
     "split brain: hap1, hap2 and hap3 all hold the VIP (keepalived MASTER on hap1, hap2, hap3): their VRRP "
     "adverts to 224.0.0.18 do not reach each other; if the network drops multicast, set cluster.vrrp: unicast"),
    ("2-of-3-unicast", ["hap1", "hap3"], LBS3, {"hap1": "MASTER", "hap2": "BACKUP", "hap3": "MASTER"}, "unicast",
     "split brain: hap1 and hap3 both hold the VIP (keepalived MASTER on hap1, hap3): their unicast VRRP "
     "adverts (IP protocol 112) do not reach each other"),
    ("a-hand-added-vip", ["hap1", "hap2"], LBS2, {"hap1": "MASTER", "hap2": "BACKUP"}, "multicast",
     "split brain: hap1 and hap2 both hold the VIP (keepalived MASTER on hap1): their VRRP adverts to "
     "224.0.0.18 do not reach each other; if the network drops multicast, set cluster.vrrp: unicast"),
    ("no-states-known", ["hap1", "hap2"], LBS2, None, None, "split brain: hap1 and hap2 both hold the VIP"),
]


@pytest.mark.parametrize("holding,lbs,states,vrrp,detail", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
@pytest.mark.parametrize("preempt", [False, True])
def test_split_brain_is_named(holding, lbs, states, vrrp, detail, preempt):
    assert judge_hosts.judge_vip_holder(holding, lbs, preempt, states, vrrp) == (False, detail)


@pytest.mark.parametrize("holder", ["hap1", "hap2", "hap3"])
def test_one_holder_of_three_lbs_passes_with_nopreempt(holder):
    ok, detail = judge_hosts.judge_vip_holder([holder], LBS3, False, MASTERS, "unicast")
    assert ok and detail.startswith(f"{holder} holds the VIP")


def test_preempt_with_three_lbs_wants_the_highest_healthy():
    lbs = {"hap1": (101, False), "hap2": (100, True), "hap3": (99, True)}
    assert judge_hosts.judge_vip_holder(["hap2"], lbs, True)[0] is True
    ok, detail = judge_hosts.judge_vip_holder(["hap3"], lbs, True)
    assert not ok and "hap2 (priority 100) is healthy" in detail
