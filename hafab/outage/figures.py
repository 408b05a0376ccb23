"""Pure figures of an outage from its records: failure runs and windows, probe summaries, and the VIP
holder's timeline. Unit-tested without any lab.

samples: hafab.outage.load.Sample, in send order; watch samples: [(time, lb_name, holds)] of VipWatcher.
"""

import bisect
from collections import Counter

def failure_runs(samples, interval):
    """[(start, end, count)] of runs of consecutive failed samples (in send order). A run lasts from the
    first failure's send time to the send time of the first success after it (or the last failure's
    send time + interval when nothing followed)."""
    runs = []
    start = count = None
    last = None
    for sample in samples:
        if sample.failed:
            if start is None:
                start, count = sample.sent, 0
            count += 1
            last = sample.sent
        elif start is not None:
            runs.append((start, sample.sent, count))
            start = None
    if start is not None:
        runs.append((start, last + interval, count))
    return runs


def window_ms(samples, interval):
    """The longest run of consecutive failures in ms (0.0 when none failed)."""
    runs = failure_runs(samples, interval)
    return round(max((end - start for start, end, _ in runs), default=0.0) * 1000, 1)


def summarize(samples, interval):
    """The contract's `probe` object for these samples (+ `errors`: why requests got no answer)."""
    statuses = Counter(str(s.status) for s in samples if s.status is not None)
    served = Counter(s.server for s in samples if s.status is not None and s.status < 500 and s.server)
    errors = Counter(_error_kind(s.error) for s in samples if s.status is None)
    return {"requests": len(samples), "failed": sum(1 for s in samples if s.failed),
            "window_ms": window_ms(samples, interval), "served_by": dict(sorted(served.items())),
            "statuses": dict(sorted(statuses.items())), "errors": dict(sorted(errors.items()))}


def _error_kind(error):
    return (error or "no answer").split(" ", 1)[0].rstrip(":")


def max_lag_ms(samples):
    """How late the worst request started against its schedule (the load generator's own health)."""
    return round(max((s.sent - s.due for s in samples if s.due is not None), default=0.0) * 1000, 1)


def between(samples, start, end=None):
    """Samples sent in [start, end)."""
    return [s for s in samples if s.sent >= start and (end is None or s.sent < end)]


def latest_holders(watch_samples, at, lb_names):
    """The LBs whose latest sample at or before `at` says they hold the VIP (a sorted tuple)."""
    latest = {}
    for when, name, held in watch_samples:
        if when <= at:
            latest[name] = held
    return tuple(sorted(n for n in lb_names if latest.get(n)))


def holder_timeline(watch_samples, lb_names):
    """[(time, holders tuple)] each time the set of holders changes (first entry: the first sample)."""
    timeline = []
    latest = {}
    for when, name, held in sorted(watch_samples):
        latest[name] = held
        holders = tuple(sorted(n for n in lb_names if latest.get(n)))
        if not timeline or timeline[-1][1] != holders:
            timeline.append((when, holders))
    return timeline


def holder_name(holders):
    """None for nobody, the name for one holder, "hap1+hap2" when several hold it (split brain)."""
    return "+".join(holders) if holders else None


def holder_at(timeline, at):
    """Holders at time `at` from a holder_timeline (() before the first entry)."""
    times = [t for t, _ in timeline]
    i = bisect.bisect_right(times, at) - 1
    return timeline[i][1] if i >= 0 else ()


def dominant_holder(timeline, start, end):
    """The holders set that held for most of [start, end) (ties: the later one); () when unknown."""
    if end <= start or not timeline:
        return holder_at(timeline, start)
    spans = Counter()
    points = [start] + [t for t, _ in timeline if start < t < end] + [end]
    for a, b in zip(points, points[1:]):
        spans[holder_at(timeline, a)] += b - a
    best = max(spans.values())
    for a in reversed(points[:-1]):
        if spans[holder_at(timeline, a)] == best:
            return holder_at(timeline, a)
    return ()


def first_change_after(timeline, start, before):
    """When, after `start`, the VIP first arrived on holders other than `before` (None: it never did).
    A VIP held by nobody has not arrived anywhere yet."""
    for when, holders in timeline:
        if when > start and holders and holders != before:
            return when
    return None
