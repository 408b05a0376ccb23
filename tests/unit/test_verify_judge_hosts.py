"""verify's judgement of each host's own state, with plain data: units, VIP holder, keepalived, ARP,
nonlocal bind, `haproxy -c`."""

import pytest

from hafab.verify import judge_hosts
from hafab.verify.gather import parse_units

LBS = {"hap1": (101, True), "hap2": (100, True)}
HAP1_DOWN = {"hap1": (101, False), "hap2": (100, True)}


def test_units_active_and_enabled():
    found = parse_units("haproxy active enabled\nkeepalived inactive enabled\napache2 active\n")
    assert judge_hosts.judge_units(found, ["haproxy"]) == (True, "haproxy active/enabled")
    ok, detail = judge_hosts.judge_units(found, ["haproxy", "keepalived", "apache2"])
    assert not ok and "keepalived inactive/enabled" in detail and "apache2 active/not-found" in detail


# holding, lbs, preempt; ok, words the detail must hold (or start with, for ^words)
VIP_HOLDER = {
    "nopreempt: hap1 may hold it": (["hap1"], LBS, False, True, "^hap1"),
    "nopreempt: hap2 may hold it": (["hap2"], LBS, False, True, "^hap2"),
    "preempt: the highest priority holds it": (["hap1"], LBS, True, True, ""),
    "preempt: a lower priority may not": (["hap2"], LBS, True, False, "hap1 (priority 101)"),
    "preempt: hap1 unhealthy, hap2 is right": (["hap2"], HAP1_DOWN, True, True, ""),
    "nopreempt: an unhealthy holder fails": (["hap1"], HAP1_DOWN, False, False, ""),
    "preempt: split brain": (["hap1", "hap2"], LBS, True, False, "split brain"),
    "nopreempt: split brain": (["hap1", "hap2"], LBS, False, False, "split brain"),
}


@pytest.mark.parametrize("case", sorted(VIP_HOLDER))
def test_vip_holder(case):
    holding, lbs, preempt, want, words = VIP_HOLDER[case]
    ok, detail = judge_hosts.judge_vip_holder(holding, lbs, preempt)
    assert ok is want, detail
    assert detail.startswith(words[1:]) if words.startswith("^") else words in detail


@pytest.mark.parametrize("preempt", [True, False])
def test_no_holder_is_an_outage(preempt):
    assert judge_hosts.judge_vip_holder([], LBS, preempt) == (False, "no LB holds the VIP (outage)")


@pytest.mark.parametrize("lb, state, healthy, ok", [
    ("hap1", "MASTER", True, True), ("hap2", "BACKUP", True, True), ("hap1", "BACKUP", True, False),
    ("hap2", "MASTER", True, False), ("hap2", "FAULT", True, False),
    ("hap2", "STOPPED", False, True),   # services reports it
])
def test_keepalived_master_on_holder_backup_elsewhere(lb, state, healthy, ok):
    assert judge_hosts.judge_keepalived(lb, state, "hap1", healthy)[0] is ok


def test_an_lb_held_in_fault_names_the_hold_and_how_it_goes():
    ok, detail = judge_hosts.judge_keepalived("hap2", "FAULT", "hap1", True, held=True)
    assert not ok and detail == ("FAULT: held by /run/hafab-vrrp-hold, which an interrupted provision left "
                                 "(the next `inv provision` releases it)")


MACS = {"hap1": "02:aa:00:00:00:01", "hap2": "02:aa:00:00:00:02"}


@pytest.mark.parametrize("mac, holder, ok, words", [
    ("02:aa:00:00:00:01", "hap1", True, ""), ("02:aa:00:00:00:02", "hap1", False, "hap2's MAC"),
    (None, "hap1", False, ""), ("02:aa:00:00:00:01", None, False, ""),
])
def test_arp_must_point_at_the_holder(mac, holder, ok, words):
    got, detail = judge_hosts.judge_arp(mac, holder, MACS)
    assert got is ok and words in detail


FILES = "/etc/sysctl.d/60-hafab.conf:net.ipv4.ip_nonlocal_bind = 1\n"


@pytest.mark.parametrize("live, files, ok, words", [
    ("1\n", FILES, True, "live 1, persisted in /etc/sysctl.d/60-hafab.conf"),
    ("0", FILES, False, ""),
    ("1", "", False, "not persisted"),
    ("1", FILES + "/etc/sysctl.d/99-x.conf:net.ipv4.ip_nonlocal_bind=0\n", False, ""),
    ("1", "/etc/sysctl.conf:# net.ipv4.ip_nonlocal_bind=1\n", False, ""),
], ids=["live and persisted", "live 0", "not persisted", "also set to 0", "commented out"])
def test_nonlocal_bind_live_and_persisted(live, files, ok, words):
    got, detail = judge_hosts.judge_nonlocal_bind(live, files)
    assert got is ok and words in detail
    if ok:
        assert detail == words


ALERTS = ("[ALERT]    (5833) : config : parsing [/etc/haproxy/haproxy.cfg:3] : unknown keyword 'bogus' in "
          "'frontend' section\n[ALERT]    (5833) : config : Error(s) found in configuration file : "
          "/etc/haproxy/haproxy.cfg\n[ALERT]    (5833) : config : Fatal errors found in configuration.\nrc=1")


@pytest.mark.parametrize("output, expected", [
    ("Configuration file is valid\nrc=0", (True, "haproxy -c: Configuration file is valid")),
    (ALERTS, (False, "haproxy -c exit 1: parsing [/etc/haproxy/haproxy.cfg:3] : unknown keyword 'bogus' in "
                     "'frontend' section")),
], ids=["valid", "first specific alert"])
def test_haproxy_config_check(output, expected):
    assert judge_hosts.judge_haproxy_config(output) == expected
