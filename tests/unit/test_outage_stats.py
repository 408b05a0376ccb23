"""Pure figures of an outage: failure windows, probe summaries, VIP holder timelines (hafab.load)."""

from hafab.outage.load import (Sample, dominant_holder, failure_runs, first_change_after, holder_at, holder_name,
                        holder_timeline, latest_holders, summarize, window_ms)

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


def test_no_failure_no_window():
    assert window_ms(samples("....."), INTERVAL) == 0.0
    assert failure_runs(samples("....."), INTERVAL) == []


def test_window_is_the_longest_run_until_the_next_success():
    # runs of 2 and 6 failures: the longest lasts from its first failure to the next success, 60 ms
    s = samples("..xx...xxxxxx..")
    runs = failure_runs(s, INTERVAL)
    assert [count for _, _, count in runs] == [2, 6]
    assert window_ms(s, INTERVAL) == 60.0


def test_one_failure_is_one_interval():
    assert window_ms(samples("..x.."), INTERVAL) == 10.0


def test_run_to_the_end_is_closed_by_one_interval():
    assert window_ms(samples("..xxx"), INTERVAL) == 30.0


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
    assert holder_at(timeline, 0.07) == ("hap1",)
    assert holder_at(timeline, 0.12) == ()
    assert holder_at(timeline, -1) == ()
    assert first_change_after(timeline, 0.02, ("hap1",)) == 0.16
    assert first_change_after(timeline, 0.2, ("hap2",)) == 0.25
    assert first_change_after(timeline, 0.31, ("hap2",)) is None


def test_dominant_holder_is_who_held_longest():
    timeline = holder_timeline(WATCH, LBS)
    assert dominant_holder(timeline, 0.15, 0.40) == ("hap2",)
    assert dominant_holder(timeline, 0.0, 0.09) == ("hap1",)


def test_latest_holders_and_names():
    assert latest_holders(WATCH, 0.27, LBS) == ("hap1", "hap2")
    assert latest_holders(WATCH, 0.35, LBS) == ("hap2",)
    assert holder_name(()) is None
    assert holder_name(("hap1",)) == "hap1"
    assert holder_name(("hap1", "hap2")) == "hap1+hap2"
