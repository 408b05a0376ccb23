"""Prometheus metrics on the LBs: `cluster.metrics_from` (validated, defaulted), the rendered `frontend
metrics`, a real haproxy serving the rendered section on loopback (refused to another source, 401
without credentials, every server's state with them), and the judge of a scrape (hafab/verify/judge_metrics.py).
"""

import http.server
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest
import yaml

from hafab.cluster import inventory, minions, probe
from hafab.engine.errors import InputError
from hafab.verify import judge_metrics, probes

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PASSWORD = "metrics-test-password-0123456789abcdef"
CFG = "/etc/haproxy/haproxy.cfg"


def write_hosts(tmp_path, prefix="192.168.50.", **cluster):
    with open(os.path.join(REPO, "hosts.yaml"), encoding="utf-8") as fh:
        data = yaml.safe_load(fh.read().replace("192.168.50.", prefix))
    data["cluster"].update(cluster)
    (tmp_path / "hosts.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    secrets = tmp_path / ".secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "stats-password").write_text(PASSWORD + "\n")
    os.chmod(secrets / "stats-password", 0o600)
    return str(tmp_path / "hosts.yaml")


@pytest.mark.parametrize("given, kept", [
    (None, "192.168.50.1"),                        # the default: the subnet's first address (lab bridge)
    ("10.0.0.5", "10.0.0.5"), ("10.0.0.5/32", "10.0.0.5"), ("10.1.0.0/16", "10.1.0.0/16"),
    ("192.168.50.1", "192.168.50.1"),
])
def test_metrics_from_is_kept_normalised(tmp_path, given, kept):
    extra = {} if given is None else {"metrics_from": given}
    assert inventory.load(write_hosts(tmp_path, **extra)).cluster["metrics_from"] == kept


@pytest.mark.parametrize("given", ["10.0.0.5/16", "not-an-address", "300.1.1.1", 17, True, ["10.0.0.1"], "",
                                   "::1", "10.0.0.1 or 1"])
def test_bad_metrics_from_is_exit_2_naming_the_key(tmp_path, given):
    with pytest.raises(InputError) as caught:
        inventory.load(write_hosts(tmp_path, metrics_from=given))
    assert "cluster.metrics_from" in str(caught.value) and caught.value.exit_code == 2
    assert "\n" not in str(caught.value)


def rendered(tmp_path, host="hap1", prefix="192.168.50.", **cluster):
    inv = inventory.load(write_hosts(tmp_path, prefix, **cluster))
    states = {s.id: s for s in minions.compile_host(inv, host, root=REPO)}
    return inv, states[CFG].prepared["text"]


@pytest.mark.parametrize("host, cluster, bind, source", [
    ("hap1", {}, "192.168.50.11:9101", "192.168.50.1"),
    ("hap2", {}, "192.168.50.12:9101", "192.168.50.1"),
    ("hap1", {"metrics_from": "10.9.0.0/24"}, "192.168.50.11:9101", "10.9.0.0/24"),
    ("hap2", {"mode": "tcp", "metrics_from": "10.9.0.3"}, "192.168.50.12:9101", "10.9.0.3"),
])
def test_metrics_frontend_binds_the_lb_and_admits_the_operator_only(tmp_path, host, cluster, bind, source):
    _, text = rendered(tmp_path, host, **cluster)
    section = text[text.index("frontend metrics"):]
    lines = [" ".join(x.split()) for x in section.splitlines()]
    assert f"bind {bind}" in lines and "mode http" in lines
    assert f"tcp-request connection reject unless {{ src {source} }}" in lines
    assert "http-request auth realm metrics unless { http_auth(metrics-users) }" in lines
    assert "http-request use-service prometheus-exporter if { path /metrics }" in lines
    assert f"user admin insecure-password {PASSWORD}" in [" ".join(x.split()) for x in text.splitlines()]


# ---- a real haproxy serving the rendered metrics section on loopback --------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loopback_config(tmp_path, web_port, closed_port):
    """The rendered userlist + metrics frontend (LB on 127.0.0.11, operator 127.0.0.1) under a minimal
    global/defaults, with the web backend's two servers: one listening, one not."""
    _, text = rendered(tmp_path, prefix="127.0.0.", metrics_from="127.0.0.1")
    metrics = text[text.index("userlist metrics-users"):]
    return (f"global\n    maxconn 100\n    pidfile {tmp_path}/haproxy.pid\n"
            "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n"
            f"backend webservers\n    default-server inter 100 rise 1 fall 1\n"
            f"    server web1 127.0.0.1:{web_port} check\n    server web2 127.0.0.1:{closed_port} check\n" + metrics)


class Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def haproxy_on_loopback(tmp_path):
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    config = tmp_path / "haproxy.cfg"
    config.write_text(loopback_config(tmp_path, web.server_address[1], free_port()))
    process = subprocess.Popen([haproxy, "-db", "-f", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)
        web.shutdown()


def scrape_until(lb, want, seconds=10):
    prober = _LoopbackProber()
    deadline = time.monotonic() + seconds
    while True:
        scrape = probes.scrape_metrics(prober, lb, PASSWORD)
        states = judge_metrics.server_states(scrape.scraped.body)
        if states == want or time.monotonic() > deadline:
            return scrape, states
        time.sleep(0.1)


class _LoopbackProber:
    """Sends to loopback only (a Prober checks lab routes; this test's LB lives on 127.0.0.11)."""

    def get(self, address, path="/", port=80, headers=None, timeout=None):
        assert address.startswith("127.")
        return probe.request(address, path, port=port, headers=headers, timeout=timeout or 1.0)


def test_real_haproxy_serves_the_states_to_the_operator_only(haproxy_on_loopback, tmp_path):
    lb = inventory.Host("hap1", "127.0.0.11", ["lb"], 101, {})
    scrape, states = scrape_until(lb, {"web1": "UP", "web2": "DOWN"})
    assert haproxy_on_loopback.poll() is None, haproxy_on_loopback.stderr.read()
    assert states == {"web1": "UP", "web2": "DOWN"}
    assert scrape.anonymous.status == 401 and scrape.scraped.status == 200
    ok, detail = judge_metrics.judge_metrics(scrape.anonymous, scrape.scraped, ["web1", "web2"], scrape.url)
    assert not ok and "web1 UP, web2 DOWN" in detail
    # from any other address than cluster.metrics_from: the connection is refused before any HTTP
    assert answer_to("127.0.0.2") in (b"", "reset")
    assert answer_to("127.0.0.1").startswith(b"HTTP/1.1 401")     # the operator's address: HTTP answers


def answer_to(source):
    """What the metrics port says to a plain request from `source`: its first bytes, or 'reset'."""
    try:
        with socket.create_connection(("127.0.0.11", probes.METRICS_PORT), timeout=2,
                                      source_address=(source, 0)) as sock:
            sock.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            return sock.recv(100)
    except ConnectionResetError:
        return "reset"


# ---- the judge of one scrape ---------------------------------------------------------------------

def status_lines(states, proxy="webservers"):
    lines = ["# HELP haproxy_server_status Current status of the service, per state label value.",
             "# TYPE haproxy_server_status gauge"]
    for server, state in states.items():
        for word in ("DOWN", "UP", "MAINT", "DRAIN", "NOLB"):
            lines.append(f'haproxy_server_status{{proxy="{proxy}",server="{server}",state="{word}"}} '
                         f'{1 if word == state else 0}')
    return "\n".join(lines + ['haproxy_server_weight{proxy="webservers",server="web1"} 1']) + "\n"


def response(status=None, body="", error=""):
    return probe.Response("192.168.50.11", "/metrics", status=status, body=body, error=error)


URL = "http://192.168.50.11:9101/metrics"
ANON_401 = response(401)


@pytest.mark.parametrize("anonymous, scraped, ok, words", [
    (ANON_401, response(200, status_lines({"web1": "UP", "web2": "UP"})), True, "web1 UP, web2 UP"),
    (ANON_401, response(200, status_lines({"web1": "UP", "web2": "DOWN"})), False, "web1 UP, web2 DOWN"),
    (ANON_401, response(200, status_lines({"web1": "MAINT", "web2": "UP"})), False, "web1 MAINT"),
    (ANON_401, response(200, status_lines({"web1": "DRAIN", "web2": "UP"})), False, "web1 DRAIN"),
    (ANON_401, response(200, status_lines({"web1": "UP"})), False, "web2 missing"),
    (ANON_401, response(200, status_lines({"web1": "UP", "web2": None})), False, "web2 no state"),
    (ANON_401, response(200, status_lines({"web1": "UP", "web2": "UP"}, proxy="other")), False, "web1 missing"),
    (ANON_401, response(200, ""), False, "web1 missing, web2 missing"),
    (response(200), response(200, status_lines({"web1": "UP", "web2": "UP"})), False, "200 without credentials"),
    (response(error="refused"), response(error="refused"), False, "refused (is this machine in cluster.metrics_from?)"),
    (response(error="timeout after 2 s"), response(error="timeout after 2 s"), False, "timeout after 2 s"),
    (ANON_401, response(401), False, "401 with the stats credentials"),
    (ANON_401, response(401, "<html><h1>401 Unauthorized</h1></html>"), False, "metrics: 401 with the stats credentials"),
    (ANON_401, response(error="reset"), False, "reset with the stats credentials"),
])
def test_judge_metrics(anonymous, scraped, ok, words):
    got_ok, detail = judge_metrics.judge_metrics(anonymous, scraped, ["web1", "web2"], URL)
    assert got_ok is ok and words in detail and "\n" not in detail


@pytest.mark.parametrize("text, states", [
    (status_lines({"web1": "UP"}), {"web1": "UP"}),
    ('haproxy_server_status{server="web1",proxy="webservers",state="UP"} 1.0\n', {"web1": "UP"}),
    ('haproxy_server_status{proxy="webservers",server="web1",state="UP"} NaN\n', {"web1": None}),
    ('haproxy_server_status{proxy="webservers",state="UP"} 1\n', {}),
    ('haproxy_backend_status{proxy="webservers",server="web1",state="UP"} 1\n', {}),
    ("garbage {\n}} 1\n", {}),
    ("", {}),
])
def test_server_states(text, states):
    assert judge_metrics.server_states(text) == states


def test_metrics_checks_without_a_password_fail_each_lb(tmp_path):
    from hafab.verify import checks
    inv = inventory.load(write_hosts(tmp_path))
    found = checks.metrics_checks(inv, {}, None)
    assert [(c.name, c.host, c.ok) for c in found] == [("metrics", "hap1", False), ("metrics", "hap2", False)]
    assert "run `inv provision`" in found[0].detail
    assert checks.metrics_checks(inv, None, PASSWORD) == []
