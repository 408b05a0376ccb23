"""Judging an LB's Prometheus metrics (HAProxy's built-in exporter), as scraped from this machine:
refused without the stats credentials, served with them, and every web server UP there.

HAProxy 2.6 exports one `haproxy_server_status{proxy=...,server=...,state=S}` sample per state S
(DOWN, UP, MAINT, DRAIN, NOLB); the one whose value is 1 is the server's state. Pure: the judges take
probe.Response objects and return (ok, detail).
"""

import re

from hafab.cluster import haproxy

STATUS_METRIC = "haproxy_server_status"
_SAMPLE_RE = re.compile(r"^(\w+)\{([^}]*)\}\s+(\S+)", re.MULTILINE)
_LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def server_states(text, backend=haproxy.BACKEND):
    """{server: state} of `backend`'s servers from the exposition text: the state whose sample is 1."""
    found = {}
    for name, labels, value in _SAMPLE_RE.findall(text or ""):
        if name != STATUS_METRIC:
            continue
        label = dict(_LABEL_RE.findall(labels))
        if label.get("proxy") != backend or "server" not in label:
            continue
        found.setdefault(label["server"], None)
        if _number(value) == 1:
            found[label["server"]] = label.get("state", "?")
    return found


def _number(value):
    try:
        return float(value)
    except ValueError:
        return None


def judge_metrics(anonymous, scraped, webs, url):
    """The scrape without credentials is refused (401), the one with them answers 200 and shows every
    web server in `webs` UP in haproxy_server_status."""
    if not anonymous.answered:
        return False, f"{url}: {anonymous.error} (is this machine in cluster.metrics_from?)"
    if anonymous.status != 401:
        return False, f"{url}: {anonymous.status} without credentials (expected 401)"
    if scraped.status != 200:   # the status alone: an error page's <h1> names no web server
        said = scraped.status if scraped.answered else scraped.error
        return False, f"{url}: {said} with the stats credentials (401 without)"
    states = server_states(scraped.body)
    parts, ok = [], True
    for web in webs:
        state = states.get(web, "missing") or "no state"
        ok = ok and state == "UP"
        parts.append(f"{web} {state}")
    return ok, f"{STATUS_METRIC}: {', '.join(parts)} ({url}, 401 without credentials)"
