"""`inv drill`: the seed's seven scenarios, the report of one that could not run, the table."""

import os

import pytest

from hafab.cluster.inventory import load as load_inventory
from hafab.outage import drill, scenario

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def inventory():
    return load_inventory(os.path.join(REPO, "hosts.yaml"))


def test_drill_has_the_seven_scenarios(inventory):
    assert drill.scenarios(inventory) == [
        (["web1"], "service"), (["web2"], "service"), (["web1", "web2"], "service"),
        (["hap1"], "service"), (["hap2"], "service"), (["hap1", "hap2"], "service"), (["hap1"], "host")]


def test_failed_report_has_the_outage_shape(inventory):
    plan = scenario.OutagePlan(inventory, ["hap1"], "service", 3.0, 100.0, True, "ssh_config", "lab", None)
    assert drill.failed_report(plan, "hap1: SSH failed: x") == {
        "scenario": "hap1 down", "hosts": ["hap1"], "kind": "service", "expected": "", "ok": False,
        "held": False, "reasons": ["hap1: SSH failed: x"],
        "probe": {"requests": 0, "failed": 0, "window_ms": 0.0, "served_by": {}, "statuses": {}, "errors": {}},
        "vip_holder": {"before": None, "during": None, "after": None}, "restored": False,
        "error": "hap1: SSH failed: x"}


def report(name, held=True, restored=True, reasons=(), before="hap1", during="hap1", after="hap1"):
    return {"scenario": name, "ok": held and restored, "held": held, "reasons": list(reasons),
            "probe": {"requests": 300, "failed": 30, "window_ms": 300.0},
            "vip_holder": {"before": before, "during": during, "after": after}, "restored": restored,
            "restore": {"failed": 10, "window_ms": 100.0}}


TABLE = """\
scenario        held  requests  failed  window ms  VIP before>during>after  restore failed  restore window ms
--------------  ----  --------  ------  ---------  -----------------------  --------------  -----------------
hap1 down       yes   300       30      300        hap1>hap2>hap2           10              100
hap1+hap2 down  yes   300       30      300        hap1>->hap1              not restored    -
web1 down       NO    300       30      300        hap1>hap1>hap1           10              100
hap1+hap2 down: not restored
web1 down: served by web1, expected only web2; too few
drill: NOT every scenario held"""


def test_table():
    result = {"ok": False, "scenarios": [
        report("hap1 down", during="hap2", after="hap2"),
        report("hap1+hap2 down", restored=False, during=None),
        report("web1 down", held=False, reasons=["served by web1, expected only web2", "too few"])]}
    assert drill.drill_table(result) == TABLE


def test_table_of_a_drill_that_held():
    result = {"ok": True, "scenarios": [report("web1 down")]}
    lines = drill.drill_table(result).splitlines()
    assert lines[0].split()[:5] == ["scenario", "held", "requests", "failed", "window"]
    assert "web1 down" in lines[2] and " yes " in lines[2] and "hap1>hap1>hap1" in lines[2]
    assert lines[-1] == "drill: every scenario held and was restored"
