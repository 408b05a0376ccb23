#!/usr/bin/env python3
"""No-op `inv provision` on the lab: whole-process time (median of several runs) and where it goes.

    .venv/bin/python bench/noop.py [--hosts N] [--runs 5] [--prefix 192.168.90]

N = 4 uses hosts.yaml (the seed cluster; its lab is brought up if it is down), or a copy of it on
PREFIX.0/24 when --prefix is given; other N generate an inventory of 2 LBs and N-2 web servers on
PREFIX.0/24 (default 192.168.90) for the run. The baseline printed beside the
figure is parallel `ssh HOST true` to the same hosts (OpenSSH, new connections), measured in the same run.
"""

import argparse
import concurrent.futures
import statistics
import subprocess
import time

from common import INV, provisioned_lab, spread, timed

from hafab.cluster import inventory as inventorylib
from hafab import lab
from hafab.cluster import minions, reach
from hafab.engine import runner


def phases(path):
    """One in-process no-op run, timed phase by phase (seconds)."""
    t0 = time.perf_counter()
    inventory = inventorylib.load(path)
    compiled = minions.compile_hosts(inventory)
    config = reach.ssh_config_for(inventory, list(inventory.hosts.values()))
    t1 = time.perf_counter()
    reports = runner.run_hosts(compiled, config)
    t2 = time.perf_counter()
    hosts = reports.values()
    for r in hosts:
        changed = [ret["__id__"] for ret in r.results.values() if ret["changes"]]
        if r.error or changed:
            raise SystemExit(f"not a no-op on {r.name}: {r.error or changed}")
    slowest = max(hosts, key=lambda r: sum(r.timings.values()))
    return {"load+compile+target": t1 - t0, "hosts in parallel": t2 - t1,
            "slowest host: connect": slowest.timings["connect"],
            "slowest host: lock+facts": slowest.timings["facts"],
            "slowest host: plan+apply": slowest.timings["apply"],
            "channel opens per host": max(r.channel_opens for r in hosts)}


def ssh_true(path):
    inventory = inventorylib.load(path)
    config = lab.ssh_config_path(inventory)
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(len(inventory.hosts)) as pool:
        list(pool.map(lambda h: subprocess.run(["ssh", "-F", config, h, "true"], check=True),
                      inventory.hosts))
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=4, help="number of hosts (default 4: the seed)")
    parser.add_argument("--runs", type=int, default=5, help="counted runs (default 5)")
    parser.add_argument("--prefix", help="the lab's /24, e.g. 192.168.90 (default: the seed's hosts.yaml "
                                         "for 4 hosts, 192.168.90 otherwise)")
    parser.add_argument("--inventory", help="a hosts.yaml to use instead (its lab is kept when it is up)")
    args = parser.parse_args()
    with provisioned_lab(args.hosts, args.prefix, args.inventory) as path:
        timed("provision", "--inventory", path)  # warm-up
        whole, baseline = [], []
        for _ in range(args.runs):
            whole.append(timed("provision", "--inventory", path))
            baseline.append(ssh_true(path))
        startup = [timed("--list") for _ in range(args.runs)]
        split = [phases(path) for _ in range(args.runs)]
    print(f"no-op provision, {args.hosts} hosts, {args.runs} runs, whole process (`{INV} provision`):")
    print(f"  hafab no-op provision     {spread(whole)}")
    print(f"  parallel `ssh HOST true`  {spread(baseline)}   ratio hafab/ssh "
          f"{statistics.median(w / b for w, b in zip(whole, baseline)):.2f}")
    print(f"  start-up (`inv --list`)   {spread(startup)}")
    print("where the time goes (in-process, median):")
    for key in split[0]:
        values = [s[key] for s in split]
        unit = "" if key.startswith("channel") else " s"
        print(f"  {key:<28}{statistics.median(values):.3f}{unit}")


if __name__ == "__main__":
    main()
