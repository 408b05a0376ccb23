"""`inv drill`: every line of the seed's outage table, one after the other, restored after each.

The list comes from the inventory, in hosts.yaml's order: each web alone, all webs (when more than one),
each LB alone, all LBs (when more than one), all kind service, and the first LB again with kind host (a
power cut). The seed cluster gives seven; three LBs and two webs give eight.
`--plot FILE.png` draws one timeline per scenario (hafab.outage.plot).
"""

from hafab.cluster.inventory import load as load_inventory
from hafab.engine.errors import HostError
from hafab.outage import plot
from hafab.outage.execution import execute
from hafab.outage.figures import summarize
from hafab.outage.fleet import Fleet
from hafab.outage.scenario import DEFAULT_DURATION, DEFAULT_RATE, prepare


def scenarios(inventory):
    """[(hosts, kind)] from the inventory: each web, all webs, each LB, all LBs (service), then the first
    LB powered off (host). Every LB is covered whatever their number."""
    webs = [w.name for w in inventory.webs()]
    lbs = [lb.name for lb in inventory.lbs()]
    found = [([w], "service") for w in webs]
    if len(webs) > 1:
        found.append((webs, "service"))
    found += [([lb], "service") for lb in lbs]
    if len(lbs) > 1:
        found.append((lbs, "service"))
    if lbs:
        found.append(([lbs[0]], "host"))
    return found


def run_drill(inventory_path="hosts.yaml", ssh_config=None, duration=DEFAULT_DURATION, rate=DEFAULT_RATE,
              plot_path=None, progress=None):
    """Every scenario, restored after each: (report {"ok", "scenarios"}, records)."""
    say = progress or (lambda message: None)
    inventory = load_inventory(inventory_path)
    if plot_path:
        plot.check_plot_path(plot_path)
    plans = [prepare(inventory, hosts, kind, duration, rate, True, ssh_config)
             for hosts, kind in scenarios(inventory)]
    fleet = Fleet(plans[0].ssh_config)
    records, reports = [], []
    try:
        for i, plan in enumerate(plans, 1):
            say(f"drill: {i}/{len(plans)} {plan.name}")
            try:
                record = execute(plan, fleet, progress)
            except HostError as exc:
                reports.append(failed_report(plan, str(exc)))
                say(f"drill: {plan.name}: {exc}")
                continue
            records.append(record)
            reports.append(record.report)
    finally:
        fleet.close()
    result = {"ok": all(r["ok"] for r in reports), "scenarios": reports}
    if plot_path:
        plot.draw(records, plot_path)
        say(f"drill: timelines written to {plot_path}")
    return result, records


def failed_report(plan, error):
    """The outage object of a scenario that could not run (`error` says why)."""
    empty = summarize([], 1.0 / plan.rate)
    return {"scenario": plan.name, "hosts": list(plan.hosts), "kind": plan.kind, "expected": "", "ok": False,
            "held": False, "reasons": [error], "probe": empty,
            "vip_holder": {"before": None, "during": None, "after": None}, "restored": False, "error": error}


def drill_table(result):
    """The seven-row table: scenario, held?, requests, failed, window; plus the restore's own figures."""
    header = ("scenario", "held", "requests", "failed", "window ms", "VIP before>during>after", "restore failed",
              "restore window ms")
    rows = []
    for r in result["scenarios"]:
        vip = r["vip_holder"]
        restore = r.get("restore") or {}
        rows.append((r["scenario"], "yes" if r["held"] else "NO", str(r["probe"]["requests"]),
                     str(r["probe"]["failed"]), f"{r['probe']['window_ms']:g}",
                     ">".join(v or "-" for v in (vip["before"], vip["during"], vip["after"])),
                     str(restore.get("failed", "-")) if r["restored"] else "not restored",
                     f"{restore.get('window_ms', 0):g}" if r["restored"] else "-"))
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in result["scenarios"]:
        if not r["ok"]:
            lines.append(f"{r['scenario']}: " + "; ".join(r.get("reasons") or ["not restored"]))
    lines.append("drill: every scenario held and was restored" if result["ok"] else "drill: NOT every scenario held")
    return "\n".join(lines)
