"""HTTPS probes (hafab/cluster/probe.py with tls.client_context) against a real HAProxy on loopback that
serves the cluster's self-signed pair with the TLS settings haproxy.cfg renders: the chain verifies
against the cluster CA for the IP and the DNS name, each request is a full handshake, a TLS 1.0/1.1-only
client gets the server's protocol_version alert, another name or another CA is refused."""

import os
import socket
import subprocess
import time
import types

import pytest

from hafab.cluster import certs, probe, tls
from tests.unit.test_cluster_templates import needs

NAME = "seed"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(inventory-like object, port) of a loopback HAProxy terminating TLS with the self-signed pair."""
    root = tmp_path_factory.mktemp("site")
    paths = certs.self_signed(str(root / tls.SELF_SIGNED_DIR), "127.0.0.1", NAME)
    pem = root / "cluster.pem"
    pem.write_bytes(open(paths["server.pem"], "rb").read() + open(paths["server.key"], "rb").read())
    os.chmod(pem, 0o600)
    port = free_port()
    config = root / "haproxy.cfg"
    config.write_text(f"""global
    ssl-default-bind-options ssl-min-ver TLSv1.2
    ssl-default-bind-ciphers {tls.CIPHERS_TLS12}
    ssl-default-bind-ciphersuites {tls.CIPHERSUITES_TLS13}
defaults
    mode http
    timeout connect 1s
    timeout client 2s
    timeout server 2s
frontend https-in
    bind 127.0.0.1:{port} ssl crt {pem} alpn http/1.1
    http-request return status 200 content-type text/html string "<h1>web1</h1>"
""")
    process = subprocess.Popen(["haproxy", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield types.SimpleNamespace(cluster={"tls": "self-signed"}, root=str(root)), port
    finally:
        process.terminate()
        process.wait(timeout=10)


pytestmark = needs("haproxy")


def test_each_request_is_a_verified_new_session(site):
    inventory, port = site
    context = tls.client_context(inventory)
    answers = [probe.request("127.0.0.1", "/", port=port, tls=context, timeout=2) for _ in range(5)]
    assert [(r.status, r.server) for r in answers] == [(200, "web1")] * 5, [r.error for r in answers]
    assert {r.tls_version for r in answers} == {"TLSv1.3"} and not any(r.tls_resumed for r in answers)
    by_name = probe.request("127.0.0.1", "/", port=port, tls=context, server_name=NAME, timeout=2)
    assert by_name.status == 200


@pytest.mark.parametrize("server_name, words", [("other", "certificate not trusted"),
                                                ("127.0.0.2", "certificate not trusted")])
def test_another_name_is_not_trusted(site, server_name, words):
    inventory, port = site
    answer = probe.request("127.0.0.1", "/", port=port, tls=tls.client_context(inventory), server_name=server_name,
                           timeout=2)
    assert answer.status is None and words in answer.error, answer.error


def test_another_ca_is_not_trusted(site, tmp_path):
    inventory, port = site
    certs.self_signed(str(tmp_path / tls.SELF_SIGNED_DIR), "127.0.0.1", NAME)   # a CA of another cluster
    stranger = types.SimpleNamespace(cluster={"tls": "self-signed"}, root=str(tmp_path))
    answer = probe.request("127.0.0.1", "/", port=port, tls=tls.client_context(stranger), timeout=2)
    assert answer.status is None and answer.error.startswith("certificate not trusted"), answer.error


def test_tls_1_1_and_below_get_the_servers_alert(site):
    inventory, port = site
    answer = probe.request("127.0.0.1", "/", port=port, tls=tls.client_context(inventory, legacy=True), timeout=2)
    assert answer.status is None and tls.refused_by_server(answer.error), answer.error
