#!/usr/bin/env python3
"""A fresh lab to a verified cluster: lab.up (cached base), the first provision, verify; with the share
of the first provision spent installing packages.

    .venv/bin/python bench/first.py [--prefix 192.168.91]

Uses its own lab on PREFIX.0/24 (a copy of the project), taken down at the end. One run: the first
provision of a host happens once.
"""

import argparse
import json
import tempfile
import time

from common import inv, seed_copy

from hafab.cluster import inventory as inventorylib
from hafab import lab


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefix", default="192.168.91")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hafab-first-") as tmp:
        path = seed_copy(tmp, args.prefix)
        inventory = inventorylib.load(path)
        try:
            t0 = time.perf_counter()
            inv("lab.up", "--inventory", path)
            t1 = time.perf_counter()
            doc = json.loads(inv("provision", "--inventory", path, "--json").stdout)
            t2 = time.perf_counter()
            inv("verify", "--inventory", path)
            t3 = time.perf_counter()
            second = json.loads(inv("provision", "--inventory", path, "--json").stdout)
        finally:
            lab.down(inventory, progress=lambda _: None)
    pkg_ms = max(sum(r["duration"] for key, r in rets.items() if key.startswith("pkg_|-"))
                 for rets in doc["hosts"].values())
    print("fresh lab -> verified cluster (4 hosts, base cached):")
    print(f"  lab.up                    {t1 - t0:7.2f} s")
    print(f"  first provision           {t2 - t1:7.2f} s  ({doc['summary']['changed']} states changed)")
    print(f"    of which package installs on the slowest host  {pkg_ms / 1000:6.2f} s")
    print(f"  verify                    {t3 - t2:7.2f} s")
    print(f"  total                     {t3 - t0:7.2f} s")
    print(f"  second provision: {second['summary']['changed']} changed in {second['duration_s']:.2f} s")


if __name__ == "__main__":
    main()
