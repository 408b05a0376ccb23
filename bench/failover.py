#!/usr/bin/env python3
"""Failover windows of the seed cluster, `timings: tuned` against `timings: seed`, medians of several runs.

    .venv/bin/python bench/failover.py [--runs 5] [--prefix 192.168.78] [--timings tuned,seed]
                                       [--vrrp multicast,unicast] [--lb-only]

`--vrrp multicast,unicast` measures each timings value with each `cluster.vrrp` value (one column per
pair, e.g. "tuned/multicast" beside "tuned/unicast"); `--lb-only` keeps only the LB-down measures.

Brings up its own lab (a copy of states/, files/ and hosts.yaml on PREFIX.0/24, taken down at the end),
provisions it with each timings value in turn and runs `hafab.outage` scenarios on it. The probe is the
issue's: a new connection every 10 ms (100/s), 1 s timeout. "The master" is whichever LB holds the VIP
when the run starts. Figures only, nothing asserted; not part of the test suite.

  web server down      apache2 stopped on web1: failed requests / longest failure window
  haproxy stopped      systemctl stop haproxy on the master
  haproxy killed       SIGKILL to haproxy's main process on the master
  master host lost     the master powered off at once (lab power cut)
  old master back      the same host booted again: the restore's failed requests / window
  haproxy hung         SIGSTOP to haproxy on the master: time until the VIP is on the other LB, and window
"""

import argparse
import statistics
import sys
import tempfile
import time

from common import inv, own_lab, seed_copy

from hafab.cluster import inventory as inventorylib
from hafab import lab, outage

RATE = 100  # a new connection every 10 ms

# (label, kind, target, figure) - target "web1" or "master"; figure picks numbers from the report
MEASURES = [
    ("web server down", "service", "web1", "outage"),
    ("haproxy stopped on the master", "service", "master", "outage"),
    ("haproxy killed on the master", "kill", "master", "outage"),
    ("master host lost (power cut)", "host", "master", "outage"),
    ("old master back (boot)", "host", "master", "restore"),
    ("haproxy hung on the master", "hang", "master", "hang"),
]
DURATION = {"tuned": 3.0, "seed": 7.0}
HANG_DURATION = {"tuned": 4.0, "seed": 9.0}


def make_tree(directory, prefix, timings):
    return seed_copy(directory, prefix, lambda text: set_timings(text, timings))


def set_cluster_key(text, key, value):
    lines = [line for line in text.splitlines() if not line.strip().startswith(f"{key}:")]
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("subnet:"))
    lines.insert(at + 1, f"  {key}: {value}")
    return "\n".join(lines) + "\n"


def set_timings(text, timings):
    return set_cluster_key(text, "timings", timings)


def configurations(timings_list, vrrp_list):
    """[(column label, timings, vrrp)]: every timings value with every vrrp value."""
    if vrrp_list == ["multicast"]:
        return [(t, t, "multicast") for t in timings_list]
    return [(f"{t}/{v}", t, v) for t in timings_list for v in vrrp_list]


def master(inventory):
    holder = lab.status(inventory)["vip_holder"]
    if not holder:
        raise SystemExit("nobody holds the VIP")
    return holder


def one(path, kind, target, duration):
    inventory = inventorylib.load(path)
    host = master(inventory) if target == "master" else target
    record = outage.run(path, [host], kind=kind, duration=duration, rate=RATE)
    return record.report


def figures(report, figure):
    """(failed, window_ms, extra ms or None) for one run."""
    if figure == "restore":
        restore = report["restore"]
        return restore["failed"], restore["window_ms"], None
    probe = report["probe"]
    return probe["failed"], probe["window_ms"], report.get("vip_moved_ms") if figure == "hang" else None


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def cell(results):
    if not results:
        return "-"
    failed = median([r[0] for r in results])
    window = median([r[1] for r in results])
    moved = median([r[2] for r in results])
    windows = [r[1] for r in results]
    text = f"{failed:g} failed, {window:g} ms ({min(windows):g}-{max(windows):g})"
    if moved is not None:
        text += f"; VIP moved {moved:g} ms"
    return text


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per measure (default 5)")
    parser.add_argument("--prefix", default="192.168.78", help="the lab's /24 (default 192.168.78)")
    parser.add_argument("--timings", default="tuned,seed", help="comma-separated timings values to compare")
    parser.add_argument("--vrrp", default="multicast",
                        help="comma-separated cluster.vrrp values to compare (default multicast)")
    parser.add_argument("--lb-only", action="store_true", help="only the LB-down measures (on the master: "
                        "haproxy stopped, killed or hung, the host lost, the old master back)")
    return parser.parse_args()


def measure(path, config, runs, measures, results, notes):
    label_of, timings = config[0], config[1]
    for run in range(1, runs + 1):
        for label, kind, target, figure in measures:
            if figure == "restore":
                continue  # taken from the host-lost run below
            duration = (HANG_DURATION if kind == "hang" else DURATION)[timings]
            try:
                report = one(path, kind, target, duration)
            except Exception as exc:  # noqa: BLE001 - a figure is missing, the bench goes on
                notes.append(f"{label_of} run {run} {label}: {exc}")
                continue
            if not report["ok"]:
                notes.append(f"{label_of} run {run} {label}: not held/restored: {report['reasons']}")
            results[label].append(figures(report, figure))
            if kind == "host":
                results["old master back (boot)"].append(figures(report, "restore"))
            print(f"  {label_of} run {run}: {label}: failed {report['probe']['failed']}, window "
                  f"{report['probe']['window_ms']:g} ms, restore failed {report['restore']['failed']}",
                  file=sys.stderr)


def main():
    args = parse_args()
    timings_list = [t.strip() for t in args.timings.split(",") if t.strip()]
    vrrp_list = [v.strip() for v in args.vrrp.split(",") if v.strip()]
    configs = configurations(timings_list, vrrp_list)
    measures = [m for m in MEASURES if not args.lb_only or m[2] == "master"]
    results = {c[0]: {label: [] for label, *_ in measures} for c in configs}
    notes = []
    with tempfile.TemporaryDirectory(prefix="hafab-failover-") as tmp:
        path = make_tree(tmp, args.prefix, timings_list[0])
        with own_lab(path, args.prefix):
            for config in configs:
                with open(path) as f:
                    text = set_cluster_key(set_timings(f.read(), config[1]), "vrrp", config[2])
                with open(path, "w") as f:
                    f.write(text)
                print(f"provisioning {config[0]}...", file=sys.stderr)
                inv("provision", "--inventory", path)
                time.sleep(2)
                measure(path, config, args.runs, measures, results[config[0]], notes)
    print(f"\nFailover windows, medians of {args.runs} runs (failed requests, longest failure window in ms with "
          f"min-max); probe: new connection every 10 ms, 1 s timeout")
    width = max(len(label) for label, *_ in measures)
    print(f"{'event':<{width}}  " + "  ".join(f"{c[0]:<48}" for c in configs).rstrip())
    for label, *_ in measures:
        print(f"{label:<{width}}  " + "  ".join(f"{cell(results[c[0]][label]):<48}" for c in configs).rstrip())
    for note in notes:
        print("note: " + note)


if __name__ == "__main__":
    main()
