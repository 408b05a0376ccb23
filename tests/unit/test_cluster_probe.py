"""probe: one GET per new connection, bounded in time and count, only to checked addresses (loopback here)."""

import http.server
import socket
import threading
import time

import pytest

from hafab.cluster import inventory
from hafab.cluster import probe
from hafab.cluster import reach
from hafab.engine.errors import InputError

HOSTS = """\
cluster: {vip: 10.123.0.10, subnet: 10.123.0.0/24, interface: eth1, virtual_router_id: 7}
hosts:
  hap1: {address: 10.123.0.11, roles: [lb], priority: 101}
  web1: {address: 10.123.0.21, roles: [web]}
"""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive would be possible: the probe must not use it

    def do_GET(self):
        server = self.server
        with server.lock:
            server.seen.append((self.client_address[1], self.headers.get("Connection"), self.headers.get("User-Agent")))
            n = len(server.seen)
        if self.path.startswith("/slow"):
            time.sleep(0.6)
        body = f"<html><h1>web{1 + n % 2}</h1></html>".encode()
        self.send_response(200)
        if self.path.startswith("/header"):
            self.send_header("X-Served-By", "web9")
        self.send_header("Set-Cookie", "SERVERID=web1; path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Quiet(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass   # the probe hung up on a slow answer: expected


@pytest.fixture
def server():
    srv = Quiet(("127.0.0.1", 0), Handler)
    srv.seen, srv.lock = [], threading.Lock()
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def inv(tmp_path):
    (tmp_path / "hosts.yaml").write_text(HOSTS)
    return inventory.load(str(tmp_path / "hosts.yaml"))


def test_one_request_reports_status_server_headers_and_latency(server):
    r = probe.request("127.0.0.1", "/", port=server.server_address[1])
    assert r.status == 200 and r.server in ("web1", "web2") and r.latency > 0
    assert r.headers["content-length"] and r.set_cookies == ["SERVERID=web1; path=/"]
    assert r.local[0] == "127.0.0.1" and r.local[1] > 0
    assert probe.request("127.0.0.1", "/header", port=server.server_address[1]).server == "web9"


def test_every_request_uses_a_new_connection(server):
    prober = probe.Prober.__new__(probe.Prober)   # loopback only: no inventory routes involved
    prober.lab, prober.timeout, prober._checked, prober._lock = False, 1.0, {"127.0.0.1"}, threading.Lock()
    responses = prober.many("127.0.0.1", 6, port=server.server_address[1])
    assert [r.status for r in responses] == [200] * 6
    ports = [port for port, _, _ in server.seen]
    assert len(set(ports)) == 6
    assert {conn for _, conn, _ in server.seen} == {"close"}
    assert [r.server for r in responses] == ["web2", "web1"] * 3


def test_refused_and_timeout_are_reported_not_raised(server):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert probe.request("127.0.0.1", "/", port=port).error == "refused"
    r = probe.request("127.0.0.1", "/slow", port=server.server_address[1], timeout=0.2)
    assert r.status is None and r.error.startswith("timeout") and r.latency < 0.5


def test_many_is_paced_and_keeps_order(server, inv):
    prober = probe.Prober(inv, lab=False)
    prober.allow(["127.0.0.1"])
    started = time.monotonic()
    responses = prober.many("127.0.0.1", 10, port=server.server_address[1], rate=100, workers=4)
    assert time.monotonic() - started >= 0.09
    assert len(responses) == 10 and [r.started for r in responses] == sorted(r.started for r in responses)


def test_many_stops_at_its_deadline(server, inv):
    prober = probe.Prober(inv, lab=False)
    started = time.monotonic()
    responses = prober.many("127.0.0.1", 50, path="/slow", port=server.server_address[1], timeout=0.2, deadline=0.5)
    assert len(responses) < 5 and time.monotonic() - started < 1.5


def test_many_count_is_bounded(inv):
    prober = probe.Prober(inv, lab=False)
    with pytest.raises(InputError):
        prober.many("127.0.0.1", 0)
    with pytest.raises(InputError):
        prober.many("127.0.0.1", probe.MAX_REQUESTS + 1)


def test_lab_prober_refuses_when_the_lab_is_not_up(inv):
    with pytest.raises(InputError) as err:
        probe.Prober(inv)
    assert "the lab is not up" in str(err.value)


def test_lab_prober_checks_routes_first_and_refuses_foreign_addresses(inv, monkeypatch):
    checked = []
    monkeypatch.setattr(reach, "require_lab_routes", lambda inventory, addresses: checked.extend(addresses))
    prober = probe.Prober(inv)
    assert set(checked) == {"10.123.0.10", "10.123.0.11", "10.123.0.21"}
    with pytest.raises(InputError):
        prober.get("8.8.8.8")
    prober.allow(["127.0.0.1"])   # loopback is fine


def test_served_by_prefers_a_header_then_the_h1():
    assert probe.served_by("<h1>web1</h1>", {}) == "web1"
    assert probe.served_by("<H1 class=x>\n web2 \n</H1>", {}) == "web2"
    assert probe.served_by("<h1>web1</h1>", {"x-served-by": "web2"}) == "web2"
    assert probe.served_by("<p>none</p>", {}) is None


def test_basic_auth_header():
    assert probe.basic_auth("admin", "admin") == {"Authorization": "Basic YWRtaW46YWRtaW4="}
