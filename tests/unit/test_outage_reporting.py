"""The outage report (docs/contract.md's outage object) and its text, from a synthetic Record (no lab)."""

import os

import pytest

from hafab.cluster.inventory import load as load_inventory
from hafab.outage import reporting, scenario
from hafab.outage.execution import Record
from hafab.outage.load import Sample

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def inventory():
    return load_inventory(os.path.join(REPO, "hosts.yaml"))


def hap1_down_record():
    """6 s at 100/s: the break at 1.0 (no answers until 1.3), the restore at 4.0 (503s until 4.1),
    healthy at 4.5; hap1 holds the VIP until 1.2, hap2 from 1.25."""
    samples = []
    for i in range(600):
        t = i * 0.01
        if 1.0 <= t < 1.3:
            samples.append(Sample(t, None, None, 1.0, "timeout after 1 s", due=t))
        elif 4.0 <= t < 4.1:
            samples.append(Sample(t, 503, "503 Service Unavailable", 0.001, due=t - 0.002))
        else:
            samples.append(Sample(t, 200, "web1" if i % 2 else "web2", 0.001 + (i % 7) / 1000, due=t))
    watch = [(0.0, "hap1", True), (0.0, "hap2", False), (1.2, "hap1", False), (1.25, "hap2", True),
             (4.6, "hap1", False)]
    return Record("hap1 down", samples, watch, ["hap1", "hap2"], 0.0, 1.0, 1.05, 4.0, 4.5, 6.0, 0.01, {})


def hap1_down_plan(inventory):
    return scenario.OutagePlan(inventory, ["hap1"], "service", 3.0, 100.0, True, "ssh_config", "lab", None)


SERVED_BOTH = {"web1": 135, "web2": 135}
REPORT = {
    "scenario": "hap1 down", "hosts": ["hap1"], "kind": "service",
    "expected": "the VIP is on hap2 and service goes on", "ok": True, "held": True, "reasons": [],
    "probe": {"requests": 300, "failed": 30, "window_ms": 300.0, "served_by": SERVED_BOTH,
              "statuses": {"200": 270}, "errors": {"timeout": 30}},
    "vip_holder": {"before": "hap1", "during": "hap2", "after": "hap2"}, "restored": True, "vip_moved_ms": 250.0,
    "restore": {"requests": 200, "failed": 10, "window_ms": 100.0, "served_by": {"web1": 95, "web2": 95},
                "statuses": {"200": 190, "503": 10}, "errors": {}, "seconds": 0.5, "problems": []},
    "baseline": {"requests": 100, "failed": 0, "window_ms": 0.0, "served_by": {"web1": 50, "web2": 50},
                 "statuses": {"200": 100}, "errors": {}},
    "duration_s": 3.0, "rate": 100.0, "judged_last_s": 0.8999999999999999, "break_s": 0.05, "load_max_lag_ms": 2.0,
}
NOT_RESTORED = dict(
    REPORT, expected="one of hap1, hap2 holds the VIP and service goes on", ok=False,
    reasons=["hap1 came back by itself (systemd restarted it)"], restored=False,
    restore=dict(REPORT["restore"], problems=["web1: systemctl start failed: boom"]))

TEXT = """\
hap1 down: held - expected: the VIP is on hap2 and service goes on
  during the outage: 300 requests, 30 failed, longest failure window 300 ms; served by web1 135, web2 135; \
statuses 200: 270; no answer timeout: 30
  VIP holder: before hap1, during hap2, after hap2 (moved 250 ms after the break)
  restored: healthy after 0.5 s; 200 requests, 10 failed, longest failure window 100 ms"""
NOT_RESTORED_TEXT = """\
hap1 down: held - expected: one of hap1, hap2 holds the VIP and service goes on
  during the outage: 300 requests, 30 failed, longest failure window 300 ms; served by web1 135, web2 135; \
statuses 200: 270; no answer timeout: 30
  VIP holder: before hap1, during hap2, after hap2 (moved 250 ms after the break)
  NOT restored: web1: systemctl start failed: boom
  - hap1 came back by itself (systemd restarted it)"""


@pytest.mark.parametrize("healed,restored,problems,expected", [
    ([], True, [], REPORT),
    (["hap1"], False, ["web1: systemctl start failed: boom"], NOT_RESTORED),
], ids=["restored", "healed-not-restored"])
def test_report_of_a_record(inventory, healed, restored, problems, expected):
    report = reporting.build_report(hap1_down_plan(inventory), hap1_down_record(), healed, restored, problems)
    assert report == expected
    assert list(report) == list(expected)   # the JSON's key order too


@pytest.mark.parametrize("report,expected", [(REPORT, TEXT), (NOT_RESTORED, NOT_RESTORED_TEXT)],
                         ids=["restored", "not-restored"])
def test_text_of_a_report(report, expected):
    assert reporting.text(report) == expected


SHORT = {"scenario": "web1 down", "hosts": ["web1"], "kind": "service", "expected": "every request served by web2",
         "ok": True, "held": True, "reasons": [],
         "probe": {"requests": 1000, "failed": 0, "window_ms": 0.0, "served_by": {"web2": 1000},
                   "statuses": {"200": 1000}, "errors": {}},
         "vip_holder": {"before": "hap1", "during": "hap1", "after": "hap1"}, "restored": True,
         "vip_moved_ms": None,
         "restore": {"requests": 400, "failed": 0, "window_ms": 0.0, "seconds": 1.2, "problems": []}}


def test_text_names_the_verdict_and_the_servers():
    assert "web1 down: held" in reporting.text(SHORT)
    assert "served by web2 1000" in reporting.text(SHORT)


def test_text_without_restore():
    text = reporting.text(dict(SHORT, restored=False, restore={"problems": []}))
    assert text.splitlines()[-1] == "  not restored (--no-restore): the hosts stay broken"
