#!/usr/bin/env python3
"""Requests/s and latency through the VIP, over HTTP and HTTPS, against straight to one web server: same
client, same run.

    .venv/bin/python bench/throughput.py [--runs 3] [--seconds 5] [--prefix 192.168.92]

Uses its own lab on PREFIX.0/24 (a copy of the project with block_direct: false, so that this machine
may reach a web server directly, and cluster.tls: self-signed with cluster.http: serve, so that port 80
serves beside 443), taken down at the end. The client is wrk (Debian's package), 2 threads, 16
connections, bounded to --seconds per run; each run measures, in turn: the VIP over HTTP and over HTTPS
with keep-alive (the cost of TLS records), both again with `Connection: close` (a new connection per
request: over HTTPS a full handshake each, what `inv verify` and the outage probes do), and web1 direct.
"""

import argparse
import re
import shutil
import statistics
import subprocess
import tempfile

from common import inv, seed_copy

from hafab.cluster import inventory as inventorylib
from hafab import lab
from hafab.lab import netguard


TARGETS = {   # name: (scheme, address key, extra wrk arguments)
    "vip-http": ("http", "vip", []),
    "vip-https": ("https", "vip", []),
    "vip-http-close": ("http", "vip", ["-H", "Connection: close"]),
    "vip-https-close": ("https", "vip", ["-H", "Connection: close"]),
    "web1": ("http", "web1", []),
}


def wrk(url, seconds, extra=()):
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", *extra, url],
                         capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {p: _ms(re.search(rf"^\s+{p}%\s+(\S+)", out, re.M).group(1)) for p in ("50", "99")}
    return rps, latency["50"], latency["99"]


def _ms(text):
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--prefix", default="192.168.92")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="hafab-throughput-") as tmp:
        path = seed_copy(tmp, args.prefix, lambda text: text.replace(
            "block_direct: true", "block_direct: false\n  tls: self-signed\n  http: serve"))
        inventory = inventorylib.load(path)
        addresses = {"vip": inventory.cluster["vip"], "web1": inventory.hosts["web1"].address}
        try:
            inv("lab.up", "--inventory", path)
            inv("provision", "--inventory", path)
            inv("verify", "--inventory", path, check=False)
            bridge = lab.bridge_name(inventory)
            for address in addresses.values():
                netguard.require_lab_route(address, bridge)
            results = {name: [] for name in TARGETS}
            for _ in range(args.runs):
                for name, (scheme, where, extra) in TARGETS.items():
                    results[name].append(wrk(f"{scheme}://{addresses[where]}/", args.seconds, extra))
        finally:
            lab.down(inventory, progress=lambda _: None)
    print(f"wrk -t2 -c16, {args.seconds} s x {args.runs} runs each, medians:")
    for name, rows in results.items():
        print(f"  {name:<16} {statistics.median(r[0] for r in rows):9.0f} req/s   "
              f"p50 {statistics.median(r[1] for r in rows):6.2f} ms   p99 {statistics.median(r[2] for r in rows):6.2f} ms")
    for top, bottom, label in (("vip-http", "web1", "VIP (HTTP) / direct"),
                               ("vip-https", "vip-http", "HTTPS / HTTP, keep-alive"),
                               ("vip-https-close", "vip-http-close", "HTTPS / HTTP, a new connection per request")):
        ratio = statistics.median(a[0] / b[0] for a, b in zip(results[top], results[bottom]))
        print(f"  {label} throughput ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
