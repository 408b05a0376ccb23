"""Pure figures of an outage: failure windows, probe summaries, VIP holder timelines (hafab.outage.figures)."""

import pytest

from hafab.outage.figures import (between, dominant_holder, failure_runs, first_change_after, holder_at,
                                  holder_name, holder_timeline, latest_holders, max_lag_ms, summarize,
                                  window_ms)
from hafab.outage.load import Sample

INTERVAL = 0.01


def samples(pattern, start=100.0, server="web2"):
    """'.' = 200 from server, 'x' = no answer, '5' = 503, one every 10 ms."""
    out = []
    for i, c in enumerate(pattern):
        t = start + i * INTERVAL
        if c == ".":
            out.append(Sample(t, 200, server, 0.002))
        elif c == "5":
            out.append(Sample(t, 503, "503 Service Unavailable", 0.001))
        else:
            out.append(Sample(t, None, None, 1.0, "timeout after 1 s"))
    return out


# (pattern, failures per run, the longest window in ms)
WINDOWS = [
    (".....", [], 0.0),
    # runs of 2 and 6 failures: the longest lasts from its first failure to the next success, 60 ms
    ("..xx...xxxxxx..", [2, 6], 60.0),
    ("..x..", [1], 10.0),          # one failure is one interval
    ("..xxx", [3], 30.0),          # a run to the end is closed by one interval
]


@pytest.mark.parametrize("pattern,counts,window", WINDOWS, ids=[w[0] for w in WINDOWS])
def test_window_is_the_longest_run_until_the_next_success(pattern, counts, window):
    s = samples(pattern)
    assert [count for _, _, count in failure_runs(s, INTERVAL)] == counts
    assert window_ms(s, INTERVAL) == window


def test_summary_counts_503_as_failed_but_not_as_served():
    s = samples("..55x", server="web1")
    probe = summarize(s, INTERVAL)
    assert probe["requests"] == 5
    assert probe["failed"] == 3
    assert probe["served_by"] == {"web1": 2}
    assert probe["statuses"] == {"200": 2, "503": 2}
    assert probe["errors"] == {"timeout": 1}
    assert probe["window_ms"] == 30.0


def test_served_by_counts_each_server():
    s = samples("...", server="web1") + samples("..", start=200.0, server="web2")
    assert summarize(s, INTERVAL)["served_by"] == {"web1": 3, "web2": 2}


def test_empty_summary():
    assert summarize([], INTERVAL) == {"requests": 0, "failed": 0, "window_ms": 0.0, "served_by": {},
                                       "statuses": {}, "errors": {}}


WATCH = [
    (0.00, "hap1", True), (0.01, "hap2", False),
    (0.05, "hap1", True), (0.06, "hap2", False),
    (0.10, "hap1", False), (0.11, "hap2", False),   # nobody
    (0.15, "hap1", False), (0.16, "hap2", True),    # hap2
    (0.20, "hap1", False), (0.21, "hap2", True),
    (0.25, "hap1", True), (0.26, "hap2", True),     # split brain for a moment
    (0.30, "hap1", False), (0.31, "hap2", True),
]
LBS = ["hap1", "hap2"]


def test_holder_timeline_records_changes_only():
    timeline = holder_timeline(WATCH, LBS)
    assert [h for _, h in timeline] == [("hap1",), (), ("hap2",), ("hap1", "hap2"), ("hap2",)]
    assert [t for t, _ in timeline] == [0.0, 0.10, 0.16, 0.25, 0.30]


@pytest.mark.parametrize("at,holders", [(0.07, ("hap1",)), (0.12, ()), (-1, ())])
def test_holder_at(at, holders):
    assert holder_at(holder_timeline(WATCH, LBS), at) == holders


@pytest.mark.parametrize("start,before,when", [(0.02, ("hap1",), 0.16), (0.2, ("hap2",), 0.25),
                                               (0.31, ("hap2",), None)])
def test_first_change_after(start, before, when):
    assert first_change_after(holder_timeline(WATCH, LBS), start, before) == when


@pytest.mark.parametrize("start,end,holders", [(0.15, 0.40, ("hap2",)), (0.0, 0.09, ("hap1",))])
def test_dominant_holder_is_who_held_longest(start, end, holders):
    assert dominant_holder(holder_timeline(WATCH, LBS), start, end) == holders


@pytest.mark.parametrize("at,holders", [(0.27, ("hap1", "hap2")), (0.35, ("hap2",))])
def test_latest_holders(at, holders):
    assert latest_holders(WATCH, at, LBS) == holders


@pytest.mark.parametrize("holders,name", [((), None), (("hap1",), "hap1"), (("hap1", "hap2"), "hap1+hap2")])
def test_holder_name(holders, name):
    assert holder_name(holders) == name


def test_between_is_half_open():
    s = samples(".....")
    assert between(s, 100.01, 100.03) == s[1:3]
    assert between(s, 100.02) == s[2:]


def test_max_lag_is_the_latest_start_against_the_schedule():
    s = [Sample(1.0, 200, "web1", 0.001, due=0.99), Sample(2.0, 200, "web1", 0.001, due=1.9975),
         Sample(3.0, 200, "web1", 0.001)]
    assert max_lag_ms(s) == 10.0
    assert max_lag_ms([]) == 0.0
