"""The verdict of one scenario: did the settled end of the outage show what the seed's table promises?

The outcome is judged on the settled end of the outage (its last `tail_seconds`: after detection and
failover had their chance); the failures before it are the price, measured as `window_ms`.
"""

from hafab.outage.figures import between


def judge(expect, tail, holders_during, min_requests=5):
    """(held, reasons) for the settled end of the outage: `tail` samples, `holders_during` a tuple."""
    reasons = []
    if len(tail) < min_requests:
        return False, [f"only {len(tail)} requests in the settled part of the outage: too few to judge"]
    answered = [s for s in tail if s.status is not None]
    if expect.mode == "down":
        if answered:
            reasons.append(f"{len(answered)} of {len(tail)} requests were still answered "
                           f"(statuses {sorted({s.status for s in answered})})")
        if holders_during:
            reasons.append(f"{'+'.join(holders_during)} still holds the VIP")
        return not reasons, reasons
    if len(holders_during) != 1:
        reasons.append("no LB holds the VIP" if not holders_during
                       else f"several LBs hold the VIP: {'+'.join(holders_during)}")
    elif holders_during[0] not in expect.lbs_alive:
        reasons.append(f"the VIP is on {holders_during[0]}, which is down")
    elif expect.keeper and holders_during[0] != expect.keeper:
        reasons.append(f"the VIP moved from {expect.keeper} to {holders_during[0]} though {expect.keeper} was up")
    unanswered = len(tail) - len(answered)
    if unanswered:
        reasons.append(f"{unanswered} of {len(tail)} requests got no answer")
    if expect.mode == "503":
        other = [s.status for s in answered if s.status != 503]
        if other:
            reasons.append(f"{len(other)} answers were not 503 (e.g. {other[0]})")
        return not reasons, reasons
    bad = [s.status for s in answered if not 200 <= s.status < 300]
    if bad:
        reasons.append(f"{len(bad)} answers were not 2xx (e.g. {bad[0]})")
    wrong = sorted({s.server or "?" for s in answered if 200 <= s.status < 300 and s.server not in expect.webs_alive})
    if wrong:
        reasons.append(f"served by {', '.join(wrong)}, expected only {', '.join(expect.webs_alive)}")
    return not reasons, reasons


def tail_seconds(duration):
    """How much of the end of the outage is judged: 30 % of it, between 0.5 and 1.5 s."""
    return max(0.5, min(1.5, duration * 0.3))



def settled_samples(samples, t_restore, tail):
    """The requests judged: sent in the last `tail` seconds before the restore began and finished by then
    (a request still waiting then and answered afterwards says nothing about the outage)."""
    return [s for s in between(samples, t_restore - tail, t_restore)
            if s.status is None or s.sent + s.latency <= t_restore]
