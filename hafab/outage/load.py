"""Bounded load on the VIP while an outage runs, and a watcher of which load balancer holds the VIP.

`Load` sends one GET per new connection (over HTTPS with `tls`: a full handshake each; hafab.cluster.probe: routes of lab addresses are checked by the
Prober before anything is sent) at a steady rate from worker threads, and records each request's send
time, status, the web server that answered, and its latency. It is bounded in count and in time: it stops
at `max_requests` or `max_seconds`, whichever comes first, even if nobody calls stop().

`VipWatcher` samples, every ~50 ms, which LB holds the VIP: in the lab by looking into each LB's network
namespace (`ip -n NS -4 -o addr show`, nothing is sent on the network); for real hosts over SSH.

hafab.outage.figures turns the records into the figures of the outage report.
"""

import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from hafab.cluster import keepalived
from hafab.engine.errors import HostError, InputError
from hafab.outage.figures import latest_holders

MAX_RATE = 1000            # requests per second
MAX_REQUESTS = 200_000     # one Load at most
MAX_SECONDS = 900          # one Load or VipWatcher at most
MAX_WORKERS = 256


@dataclass
class Sample:
    """One request: `sent` is time.monotonic() when it began (`due`: when the schedule wanted it to);
    status None means no HTTP answer (`error` says why)."""

    sent: float
    status: int | None
    server: str | None
    latency: float
    error: str = ""
    due: float | None = None

    @property
    def failed(self):
        return is_failure(self.status)


def is_failure(status):
    """No HTTP answer, or a 5xx (docs/contract.md: `failed`)."""
    return status is None or status >= 500


class Load:
    """Steady-rate requests to `address` until stop(), max_requests or max_seconds."""

    def __init__(self, prober, address, rate=200, timeout=1.0, max_seconds=120, max_requests=None,
                 path="/", port=80, tls=None):
        if not 0 < rate <= MAX_RATE:
            raise InputError("--rate", f"{rate!r} must be more than 0 and at most {MAX_RATE} per second")
        if not 0 < max_seconds <= MAX_SECONDS:
            raise InputError("load", f"max_seconds {max_seconds!r} must be 0..{MAX_SECONDS}")
        self.prober = prober
        self.address = address
        self.rate = float(rate)
        self.timeout = float(timeout)
        self.max_seconds = float(max_seconds)
        self.max_requests = min(int(max_requests or rate * max_seconds + 1), MAX_REQUESTS)
        self.path = path
        # what prober.get is given beyond the defaults (plain HTTP on port 80 adds nothing)
        self.site = {k: v for k, v in (("port", port), ("tls", tls)) if v not in (80, None)}
        self.samples = []
        self.started = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._pool = None
        prober.allow([address])  # route check (lab) before anything is sent: InputError otherwise

    def start(self):
        workers = max(4, min(MAX_WORKERS, int(self.rate * self.timeout * 1.5) + 8))
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hafab-load")
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._schedule, name="hafab-load-scheduler", daemon=True)
        self._thread.start()
        return self

    def _schedule(self):
        interval = 1.0 / self.rate
        deadline = self.started + self.max_seconds
        for i in range(self.max_requests):
            due = self.started + i * interval
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            if self._stop.is_set() or time.monotonic() >= deadline:
                break
            self._pool.submit(self._one, due)

    def _one(self, due):
        response = self.prober.get(self.address, self.path, timeout=self.timeout, **self.site)
        sample = Sample(sent=response.started, status=response.status, server=response.server,
                        latency=response.latency, error=response.error, due=due)
        with self._lock:
            self.samples.append(sample)

    def recent(self, seconds):
        """Samples sent in the last `seconds` that have finished (for health checks while it runs)."""
        since = time.monotonic() - seconds
        with self._lock:
            return [s for s in self.samples if s.sent >= since]

    def stop(self):
        """Stop sending; wait for the requests in flight (each bounded by the timeout). Sorted samples."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if self._pool:
            self._pool.shutdown(wait=True)
        with self._lock:
            self.samples.sort(key=lambda s: s.sent)
            return list(self.samples)


class VipWatcher:
    """Which LBs hold the VIP, sampled every `interval` s by one thread per LB, until stop()/max_seconds.

    `holds(lb_name) -> bool` answers for one LB; an exception counts as "not holding" (a dead host does
    not answer for the VIP either). samples: [(time.monotonic(), lb_name, bool)].
    """

    def __init__(self, lb_names, holds, interval=0.05, max_seconds=300):
        self.lb_names = list(lb_names)
        self.holds = holds
        self.interval = interval
        self.max_seconds = min(float(max_seconds), MAX_SECONDS)
        self.samples = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []

    def start(self):
        for name in self.lb_names:
            thread = threading.Thread(target=self._watch, args=(name,), name=f"hafab-vip-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _watch(self, name):
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            began = time.monotonic()
            try:
                held = bool(self.holds(name))
            except Exception:  # noqa: BLE001 - an unreachable LB does not hold the VIP for clients
                held = False
            with self._lock:
                self.samples.append((began, name, held))
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - began)))

    def holders_now(self):
        with self._lock:
            return latest_holders(self.samples, time.monotonic(), self.lb_names)

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
        with self._lock:
            return sorted(self.samples)


def lab_vip_check(inventory):
    """holds(lb) for the lab: is the VIP on an interface inside the LB's network namespace?"""
    from hafab import lab  # late: the lab package is not needed for real hosts

    vip = inventory.cluster["vip"]

    def holds(name):
        ns = lab.host_netns(inventory, name)
        out = subprocess.run(["ip", "-n", ns, "-4", "-o", "addr", "show"], capture_output=True, text=True,
                             timeout=2, stdin=subprocess.DEVNULL)
        return out.returncode == 0 and keepalived.holds_vip(out.stdout, vip)
    return holds


def ssh_vip_check(inventory, fleet):
    """holds(lb) for real hosts: ask the LB over SSH (fleet: hafab.outage.fleet.Fleet)."""
    vip = inventory.cluster["vip"]
    interface = inventory.cluster["interface"]

    def holds(name):
        result = fleet.run(name, f"ip -4 -o addr show dev {interface}", timeout=2)
        if result.exit_status != 0:
            raise HostError(f"{name}: ip addr failed")
        return keepalived.holds_vip(result.stdout, vip)
    return holds
