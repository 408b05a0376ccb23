"""One run's order of work that needs no lab: the restore order (webs at once, then LBs one by one)."""

import os
import types

import pytest

from hafab.cluster.inventory import load as load_inventory
from hafab.outage import execution, scenario

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def inventory():
    return load_inventory(os.path.join(REPO, "hosts.yaml"))


class Fleet:
    def __init__(self, failing=()):
        self.hosts = []
        self.failing = failing

    def run(self, name, script, timeout=10):
        self.hosts.append(name)
        return types.SimpleNamespace(exit_status=1 if name in self.failing else 0, stdout="", stderr="no")


class Watcher:
    def __init__(self):
        self.asked = 0

    def holders_now(self):
        self.asked += 1
        return ("hap1",)


def test_restore_all_webs_first_then_lbs_in_inventory_order(inventory):
    hosts = ["hap2", "web2", "hap1", "web1"]
    plan = scenario.OutagePlan(inventory, hosts, "service", 3.0, 100.0, True, "c", "ssh", None)
    fleet, watcher = Fleet(), Watcher()
    assert execution.restore_all(plan, fleet, ["hap2", "web2", "hap1", "web1"], watcher) == []
    assert sorted(fleet.hosts[:2]) == ["web1", "web2"] and fleet.hosts[2:] == ["hap1", "hap2"]
    assert watcher.asked == 2   # once after each LB: somebody holds the VIP, no waiting


def test_restore_all_reports_each_failure_and_goes_on(inventory):
    plan = scenario.OutagePlan(inventory, ["web1", "hap1"], "service", 3.0, 100.0, True, "c", "ssh", None)
    fleet = Fleet(failing=("web1", "hap1"))
    errors = execution.restore_all(plan, fleet, ["web1", "hap1"], Watcher())
    assert errors == ["web1: systemctl start failed: no", "hap1: systemctl start failed: no"]
    assert fleet.hosts == ["web1", "hap1"]
