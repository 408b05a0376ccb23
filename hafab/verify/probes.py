"""The HTTP requests `inv verify` sends from this machine: through the VIP one after another (so that
round-robin can be judged), straight to the web servers, and the VIP's MAC in this machine's ARP table.
"""

import os
import time
from dataclasses import dataclass, field

from hafab import lab
from hafab.cluster import haproxy, probe, secrets, tls
from hafab.lab import netguard
from hafab.verify.judge_traffic import cookie_value

MAX_REQUESTS = 1000
DIRECT_TIMEOUT = 0.5      # a blocked web server must refuse (or drop) within this
VIP_TIMEOUT = 1.0
DEAD_AFTER = 3            # requests through the VIP without any answer: stop probing it
COOKIE_STICKY = 6
STATS_USER = "admin"
METRICS_PORT = 9101       # default of the LB var haproxy_metrics_port (files/haproxy/haproxy.cfg)
METRICS_PATH = "/metrics?scope=server"   # the server metrics only: smaller and faster than the lot
METRICS_TIMEOUT = 2.0


@dataclass
class VipProbes:
    rounds: list = field(default_factory=list)       # the N round-robin requests
    marker: object = None                            # the marked request (probe.Response)
    stats_anon: object = None
    stats_html: object = None
    stats_csv: object = None
    cookie_first: object = None
    cookie_sticky: list = field(default_factory=list)
    cookie_fresh: list = field(default_factory=list)
    tls: object = None                               # TlsProbes when cluster.tls is on


@dataclass
class TlsProbes:
    """With cluster.tls: the VIP's certificate for cluster.name, a TLS 1.0/1.1-only client, port 80."""
    by_name: object = None       # HTTPS to the VIP, the certificate checked for cluster.name
    legacy: object = None        # a client offering TLS 1.0 and 1.1 only
    port80: object = None        # plain HTTP GET / on port 80
    stats80: object = None       # plain HTTP to the stats page on port 80


def front(inventory):
    """{"port": ...} or {"port": 443, "tls": context}: how this machine reaches the site (tls.client_site)."""
    return tls.client_site(inventory)


def settle(prober, inventory, seconds):
    """Wait, at most `seconds`, until the VIP serves every web server (or, with persistence, answers
    200 three times running): right after a provision, HAProxy's health checks need a moment (rise 2)
    to see a web server that just came up."""
    vip, webs = inventory.cluster["vip"], {w.name for w in inventory.webs()}
    deadline = time.monotonic() + seconds
    seen, good = set(), 0
    site = front(inventory)
    while time.monotonic() < deadline:
        response = prober.get(vip, "/", timeout=1.0, **site)
        if response.status == 200:
            good += 1
            seen.add(response.server)
        else:
            good, seen = 0, set()
        if (webs <= seen) if inventory.cluster["persistence"] == "none" else good >= 3:
            return
        time.sleep(0.1)


def stats_password(inventory):
    """The stats password, or None when its file does not exist (verify never creates secrets)."""
    path = os.path.join(inventory.root, inventory.cluster["stats_password_file"])
    return secrets.stats_password(inventory) if os.path.exists(path) else None


def wants_direct_probes(inventory):
    """Requests straight to the web servers: to see the block, or (open, mode http) to fetch the pages."""
    return inventory.cluster["block_direct"] or inventory.cluster["mode"] == "http"


def stats_port(inventory):
    if inventory.cluster["mode"] == "http":
        return haproxy.HTTPS_PORT if tls.enabled(inventory) else haproxy.HTTP_PORT
    lb = inventory.lbs()[0]
    return int(lb.vars.get("haproxy_stats_port", 8404))


def probe_vip(prober, inventory, requests, marker, password):
    """Every request through the VIP, one after another (parallel ones would blur round-robin)."""
    vip = inventory.cluster["vip"]
    found = VipProbes()
    site = front(inventory)
    for _ in range(requests):
        found.rounds.append(prober.get(vip, "/", timeout=VIP_TIMEOUT, **site))
        if len(found.rounds) >= DEAD_AFTER and not any(r.answered for r in found.rounds[-DEAD_AFTER:]):
            # the VIP does not answer at all: say so in seconds rather than wait for every timeout
            dead = probe.Response(vip, "/", error=f"not sent: the VIP did not answer {DEAD_AFTER} requests in a row")
            found.marker = found.stats_anon = found.stats_html = found.stats_csv = found.cookie_first = dead
            return found
    found.marker = prober.get(vip, f"/?hafab-verify={marker}", headers={"User-Agent": f"hafab-verify/{marker}"},
                              timeout=VIP_TIMEOUT, **site)
    if inventory.cluster["persistence"] == "cookie":
        _probe_cookie(prober, vip, found, site)
    stats = site if inventory.cluster["mode"] == "http" else {"port": stats_port(inventory)}
    _probe_stats(prober, vip, stats, password, found)
    if tls.enabled(inventory):
        found.tls = probe_tls(prober, inventory, site)
    return found


def probe_tls(prober, inventory, site):
    """The TLS facts beside the rounds: the name, TLS 1.1 and below refused, what port 80 does."""
    vip = inventory.cluster["vip"]
    legacy = tls.client_context(inventory, legacy=True)
    return TlsProbes(
        by_name=prober.get(vip, "/", timeout=VIP_TIMEOUT, server_name=inventory.cluster["name"], **site),
        legacy=prober.get(vip, "/", port=site["port"], tls=legacy, timeout=VIP_TIMEOUT),
        port80=prober.get(vip, "/", port=haproxy.HTTP_PORT, timeout=VIP_TIMEOUT),
        stats80=prober.get(vip, "/haproxy?stats", port=haproxy.HTTP_PORT, timeout=VIP_TIMEOUT))


def _probe_cookie(prober, vip, found, site):
    found.cookie_first = prober.get(vip, "/", timeout=VIP_TIMEOUT, **site)
    value = cookie_value(found.cookie_first.set_cookies)
    jar = {"Cookie": f"SERVERID={value}"} if value else {}
    found.cookie_sticky = prober.many(vip, COOKIE_STICKY, headers=jar, timeout=VIP_TIMEOUT, **site)
    found.cookie_fresh = prober.many(vip, 2, timeout=VIP_TIMEOUT, **site)


def _probe_stats(prober, vip, site, password, found):
    found.stats_anon = prober.get(vip, "/haproxy?stats", timeout=VIP_TIMEOUT, **site)
    if password:
        auth = probe.basic_auth(STATS_USER, password)
        found.stats_html = prober.get(vip, "/haproxy?stats", headers=auth, timeout=VIP_TIMEOUT, **site)
        found.stats_csv = prober.get(vip, "/haproxy?stats;csv", headers=auth, timeout=VIP_TIMEOUT, **site)


@dataclass
class MetricsScrape:
    url: str
    anonymous: object      # probe.Response of the scrape without credentials
    scraped: object        # probe.Response of the scrape with the stats credentials


def metrics_port(lb):
    return int(lb.vars.get("haproxy_metrics_port", METRICS_PORT))


def scrape_metrics(prober, lb, password):
    """Scrape `lb`'s Prometheus endpoint from this machine, without and with the stats credentials."""
    port = metrics_port(lb)
    anonymous = prober.get(lb.address, METRICS_PATH, port=port, timeout=METRICS_TIMEOUT)
    auth = probe.basic_auth(STATS_USER, password) if password else {}
    scraped = prober.get(lb.address, METRICS_PATH, port=port, headers=auth, timeout=METRICS_TIMEOUT)
    return MetricsScrape(f"http://{lb.address}:{port}/metrics", anonymous, scraped)


def vip_mac(inventory, lab_mode):
    """The VIP's MAC in this machine's ARP table (None when not on-link from here: see checks)."""
    vip = inventory.cluster["vip"]
    if lab_mode:
        return probe.neighbour_mac(vip, lab.bridge_name(inventory))
    dev, gateway = netguard.route_dev(vip)
    if gateway:
        return "via-gateway"
    return probe.neighbour_mac(vip, dev)
