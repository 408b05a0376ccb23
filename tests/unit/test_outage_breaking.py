"""Breaking and restoring one host per kind: the exact commands sent (a fake fleet records them)."""

import os
import types

import pytest

from hafab.cluster.inventory import load as load_inventory
from hafab.outage import breaking, scenario

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def inventory():
    return load_inventory(os.path.join(REPO, "hosts.yaml"))


class RecordingFleet:
    """Answers every script with exit 0 (or `exit_status`) and records (host, script, timeout)."""

    def __init__(self, exit_status=0):
        self.calls = []
        self.exit_status = exit_status

    def run(self, name, script, timeout=10):
        self.calls.append((name, script, timeout))
        return types.SimpleNamespace(exit_status=self.exit_status, stdout="", stderr="boom")

    def forget(self, name):
        self.calls.append(("forget", name))


def plan_for(inventory, hosts, kind, where="ssh"):
    return scenario.OutagePlan(inventory, hosts, kind, 5.0, 200.0, True, "ssh_config", where, None)


KILL = 'pid=$(systemctl show -p MainPID --value {unit}); [ "${{pid:-0}}" -gt 0 ] && kill -KILL "$pid"'
LINK_DOWN = "setsid sh -c 'ip link set eth1 down; sleep 35; ip link set eth1 up' >/dev/null 2>&1 < /dev/null &"
BREAKS = [
    ("service", "web1", "systemctl stop apache2", 10),
    ("service", "hap1", "systemctl stop haproxy", 10),
    ("kill", "web1", KILL.format(unit="apache2"), 10),
    ("kill", "hap1", KILL.format(unit="haproxy"), 10),
    ("hang", "web1", "systemctl kill -s STOP apache2", 10),
    ("hang", "hap1", "systemctl kill -s STOP haproxy", 10),
    ("network", "web1", LINK_DOWN, 10),
    ("network", "hap1", LINK_DOWN, 10),
]
START_WEB = "systemctl reset-failed apache2 2>/dev/null; systemctl start apache2"
START_LB = "systemctl reset-failed haproxy 2>/dev/null; systemctl start haproxy keepalived"
RESTORES = [
    ("service", "web1", START_WEB, 60),
    ("service", "hap1", START_LB, 60),
    ("kill", "web1", START_WEB, 60),
    ("kill", "hap1", START_LB, 60),
    ("hang", "web1", "systemctl kill -s CONT apache2", 10),
    ("hang", "hap1", "systemctl kill -s CONT haproxy", 10),
    ("network", "web1", "ip link set eth1 up", 5),
    ("network", "hap1", "ip link set eth1 up", 5),
]


@pytest.mark.parametrize("kind,host,script,timeout", BREAKS, ids=[f"{k}-{h}" for k, h, _, _ in BREAKS])
def test_break_sends_one_script_to_the_serving_units(inventory, kind, host, script, timeout):
    fleet = RecordingFleet()
    breaking.break_host(plan_for(inventory, [host], kind), fleet, host)
    assert fleet.calls == [(host, script, timeout)]


@pytest.mark.parametrize("kind,host,script,timeout", RESTORES, ids=[f"{k}-{h}" for k, h, _, _ in RESTORES])
def test_restore_brings_back_the_serving_units_and_companions(inventory, kind, host, script, timeout):
    fleet = RecordingFleet()
    breaking.restore_host(plan_for(inventory, [host], kind), fleet, host)
    assert fleet.calls == [(host, script, timeout)]


def test_a_failing_break_is_a_host_error(inventory):
    from hafab.engine.errors import HostError
    with pytest.raises(HostError, match="web1: systemctl stop failed: boom"):
        breaking.break_host(plan_for(inventory, ["web1"], "service"), RecordingFleet(exit_status=1), "web1")


@pytest.mark.parametrize("kind,exit_status,healed", [
    ("kill", 0, ["web1", "hap1"]), ("kill", 3, []), ("service", 0, [])])
def test_self_healed_asks_systemd_after_a_kill_only(inventory, kind, exit_status, healed):
    fleet = RecordingFleet(exit_status)
    assert breaking.self_healed(plan_for(inventory, ["web1", "hap1"], kind), fleet) == healed
    expected = [("web1", "systemctl is-active apache2", 5), ("hap1", "systemctl is-active haproxy", 5)]
    assert fleet.calls == (expected if kind == "kill" else [])
