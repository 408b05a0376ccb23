"""The outage report: docs/contract.md's outage object (+ extra fields) from a Record, and its text."""

from hafab.cluster import tls
from hafab.outage import figures
from hafab.outage.judging import judge, settled_samples, tail_seconds
from hafab.outage.scenario import expectation


def build_report(plan, record, healed, restored, restore_problems):
    """The contract's outage object (+ extra fields) from a Record."""
    timeline = figures.holder_timeline(record.watch, record.lb_names)
    before = figures.holder_at(timeline, record.t_break)
    tail = tail_seconds(plan.duration)
    during = figures.dominant_holder(timeline, record.t_restore - tail, record.t_restore)
    after = figures.holder_at(timeline, record.t_end)
    expect = expectation(plan.inventory, plan.hosts, figures.holder_name(before), healed)
    held, reasons = judge(expect, settled_samples(record.samples, record.t_restore, tail), during)
    moved = figures.first_change_after(timeline, record.t_break, before)
    moved = moved if moved is not None and moved < record.t_restore else None
    restore = figures.summarize(figures.between(record.samples, record.t_restore), record.interval)
    restore.update({"seconds": round(record.t_healthy - record.t_restore, 2) if record.t_healthy else None,
                    "problems": restore_problems[:5]})
    report = {
        "scenario": plan.name,
        "hosts": list(plan.hosts),
        "kind": plan.kind,
        "expected": expect.text,
        "ok": held and (restored or not plan.restore),
        "held": held,
        "reasons": reasons + expect.notes,
        "probe": figures.summarize(figures.between(record.samples, record.t_break, record.t_restore),
                                   record.interval),
        "vip_holder": {"before": figures.holder_name(before), "during": figures.holder_name(during),
                       "after": figures.holder_name(after)},
        "restored": restored,
        "vip_moved_ms": round((moved - record.t_break) * 1000, 1) if moved else None,
        "restore": restore,
        "baseline": figures.summarize(figures.between(record.samples, record.t_start, record.t_break),
                                      record.interval),
        "duration_s": plan.duration,
        "rate": plan.rate,
        "judged_last_s": tail,
        "break_s": round(record.t_broken - record.t_break, 3),
        "load_max_lag_ms": figures.max_lag_ms(record.samples),
    }
    if tls.scheme(plan.site or {}) == "https":
        report["scheme"] = "https"   # cluster.tls: every probe a new connection and a full TLS handshake
    return report


def text(report):
    """A few lines for a person."""
    probe = report["probe"]
    verdict = "held" if report["held"] else "NOT held"
    lines = [f"{report['scenario']}: {verdict} - expected: {report['expected']}"
             + (" (probed over HTTPS, a new handshake per request)" if report.get("scheme") == "https" else "")]
    served = ", ".join(f"{k} {v}" for k, v in probe["served_by"].items()) or "nobody"
    statuses = ", ".join(f"{k}: {v}" for k, v in probe["statuses"].items()) or "none"
    errors = ", ".join(f"{k}: {v}" for k, v in probe.get("errors", {}).items())
    lines.append(f"  during the outage: {probe['requests']} requests, {probe['failed']} failed, "
                 f"longest failure window {probe['window_ms']:g} ms; served by {served}; statuses {statuses}"
                 + (f"; no answer {errors}" if errors else ""))
    vip = report["vip_holder"]
    moved = f" (moved {report['vip_moved_ms']:g} ms after the break)" if report.get("vip_moved_ms") else ""
    lines.append(f"  VIP holder: before {vip['before'] or 'nobody'}, during {vip['during'] or 'nobody'}, "
                 f"after {vip['after'] or 'nobody'}{moved}")
    restore = report.get("restore", {})
    if report["restored"]:
        lines.append(f"  restored: healthy after {restore.get('seconds')} s; {restore.get('requests')} requests, "
                     f"{restore.get('failed')} failed, longest failure window {restore.get('window_ms'):g} ms")
    elif restore.get("problems"):
        lines.append(f"  NOT restored: {'; '.join(restore['problems'])}")
    else:
        lines.append("  not restored (--no-restore): the hosts stay broken")
    for reason in report.get("reasons", []):
        lines.append(f"  - {reason}")
    return "\n".join(lines)
