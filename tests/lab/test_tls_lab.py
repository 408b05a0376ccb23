"""HTTPS on the VIP (issue 17): a lab of its own on 192.168.82.0/24 (HAFAB_TEST_TLS_PREFIX), provisioned
with `cluster.tls: self-signed` (port 80 redirects, the default). `inv verify` passes with its TLS checks;
`curl --cacert` round-robins over HTTPS; port 80 redirects with HSTS on the HTTPS answers; a TLS 1.1
client is refused by the LB; a new certificate provisioned under load fails no request; an outage probes
over HTTPS, and so does the whole drill; no output of any of it shows the private key; back to `tls: none`, no LB keeps the pem or
listens on 443. The tests run in file order on the one lab;
lab.down runs in `finally`. Timings are never asserted.
"""

import json
import os
import socket
import subprocess
import time

import pytest
import yaml

from hafab import lab
from hafab.cluster import certs, probe, tls
from hafab.lab import netguard
from hafab.outage.load import Load

from tests.lab.conftest import inv, provisioned

pytestmark = pytest.mark.lab

PREFIX = os.environ.get("HAFAB_TEST_TLS_PREFIX", "192.168.82")  # a /24 of its own
NAME = "tls-lab"
VIP = f"{PREFIX}.10"
HOSTS_YAML = f"""\
cluster:
  name: {NAME}
  vip: {VIP}
  subnet: {PREFIX}.0/24
  interface: eth1
  virtual_router_id: 82
  vrrp: unicast
  tls: self-signed
hosts:
  hap1: {{address: {PREFIX}.11, roles: [lb], priority: 101}}
  hap2: {{address: {PREFIX}.12, roles: [lb], priority: 100}}
  web1: {{address: {PREFIX}.21, roles: [web]}}
  web2: {{address: {PREFIX}.22, roles: [web]}}
"""
OUTPUTS = []   # stdout + stderr of every inv run here: the secret scan reads them at the end
KEYS = []      # the lines of each server key the lab has served (the rotation replaces one)
CERTS = {}     # the certificate served before and after the rotation (DER)


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):
    """The TLS cluster, lab up and provisioned once; torn down in finally."""
    with provisioned(str(tmp_path_factory.mktemp("tls")), HOSTS_YAML,
                     runner=lambda *args, **kw: run(inv, *args, **kw)) as built:
        yield built


def run(runner, *args, timeout=600):
    result = runner(*args, timeout=timeout)
    OUTPUTS.append(result.stdout + result.stderr)
    return result


def key_lines(cluster):
    with open(os.path.join(cluster.root, tls.SELF_SIGNED_DIR, "server.key")) as fh:
        return [line for line in fh.read().splitlines() if line and not line.startswith("-----")]


def ca_path(cluster):
    return os.path.join(cluster.root, tls.SELF_SIGNED_DIR, "ca.pem")


def curl(cluster, *args):
    """curl from this machine to the VIP, after checking the route goes through the lab bridge."""
    netguard.require_lab_route(VIP, lab.bridge_name(cluster.inventory))
    return subprocess.run(["curl", "-s", "--noproxy", "*", "-m", "3", *args], capture_output=True, text=True,
                          timeout=10, stdin=subprocess.DEVNULL)


def served_certificate(cluster):
    """The certificate the VIP serves now (DER), the chain checked against the cluster's CA."""
    netguard.require_lab_route(VIP, lab.bridge_name(cluster.inventory))
    context = tls.client_context(cluster.inventory)
    with socket.create_connection((VIP, 443), timeout=3) as raw:
        with context.wrap_socket(raw, server_hostname=VIP) as wrapped:
            return wrapped.getpeercert(binary_form=True)


def verify(cluster):
    result = run(cluster.inv, "verify", "--json", "--settle", "30", timeout=180)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    return json.loads(result.stdout)


def test_provisioned_with_tls_verify_passes(tls_cluster):
    doc = verify(tls_cluster)
    failed = [f"{c['name']} {c['host']}: {c['detail']}" for c in doc["checks"] if not c["ok"]]
    assert doc["ok"], failed
    checks = {c["name"]: c["detail"] for c in doc["checks"]}
    assert {"tls-chain", "tls-name", "tls-legacy-refused", "tls-sessions", "port-80"} <= set(checks)
    assert "refused by the LB" in checks["tls-legacy-refused"] and "301" in checks["port-80"]
    for name in certs.FILES:   # the CA and the server pair here: 0600, the directory 0700
        assert os.stat(os.path.join(tls_cluster.root, tls.SELF_SIGNED_DIR, name)).st_mode & 0o777 == 0o600
    for lb in ("hap1", "hap2"):
        found = tls_cluster.ssh(lb, "stat -c '%a %U %G' /etc/haproxy/tls/cluster.pem /etc/haproxy/tls")
        assert found.stdout.split("\n")[:2] == ["600 root root", "700 root root"], found.stdout + found.stderr


def test_curl_with_the_cluster_ca_round_robins_over_https(tls_cluster):
    served = []
    for _ in range(6):   # each curl a new process: a new connection and a full handshake
        result = curl(tls_cluster, "--cacert", ca_path(tls_cluster), f"https://{VIP}/")
        assert result.returncode == 0, result.stderr
        served.append(probe.served_by(result.stdout, {}))
    assert served in (["web1", "web2"] * 3, ["web2", "web1"] * 3), served
    by_name = curl(tls_cluster, "--cacert", ca_path(tls_cluster), "--resolve", f"{NAME}:443:{VIP}",
                   f"https://{NAME}/")
    assert by_name.returncode == 0 and probe.served_by(by_name.stdout, {}) in ("web1", "web2"), by_name.stderr
    untrusted = curl(tls_cluster, f"https://{VIP}/")   # the system's trust store does not know the cluster CA
    assert untrusted.returncode == 60, (untrusted.returncode, untrusted.stderr)


def test_port_80_redirects_and_https_carries_hsts(tls_cluster):
    plain = curl(tls_cluster, "-D", "-", "-o", "/dev/null", f"http://{VIP}/some/page")
    head = plain.stdout.lower()
    assert head.startswith("http/1.1 301") and f"location: https://{VIP}/some/page" in head, plain.stdout
    assert "strict-transport-security" not in head
    secure = curl(tls_cluster, "--cacert", ca_path(tls_cluster), "-D", "-", "-o", "/dev/null", f"https://{VIP}/")
    assert "strict-transport-security: max-age=31536000" in secure.stdout.lower(), secure.stdout


def test_tls_1_1_and_below_are_refused_by_the_lb(tls_cluster):
    prober = probe.Prober(tls_cluster.inventory)
    legacy = prober.get(VIP, "/", port=443, tls=tls.client_context(tls_cluster.inventory, legacy=True), timeout=2)
    assert legacy.status is None and tls.refused_by_server(legacy.error), legacy.error
    modern = prober.get(VIP, "/", port=443, tls=tls.client_context(tls_cluster.inventory), timeout=2)
    assert modern.status == 200 and modern.tls_version in ("TLSv1.2", "TLSv1.3") and not modern.tls_resumed


def test_a_new_certificate_under_load_fails_no_request(tls_cluster):
    before = served_certificate(tls_cluster)
    KEYS.append(key_lines(tls_cluster))
    for name in ("server.pem", "server.key"):   # the next provision issues a new pair from the same CA
        os.unlink(os.path.join(tls_cluster.root, tls.SELF_SIGNED_DIR, name))
    site = tls.client_site(tls_cluster.inventory)
    traffic = Load(probe.Prober(tls_cluster.inventory), VIP, rate=50, timeout=2.0, max_seconds=300, **site)
    traffic.start()
    try:
        time.sleep(1)
        result = run(tls_cluster.inv, "provision", "--json", timeout=600)
        time.sleep(2)
    finally:
        samples = traffic.stop()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    failed = [(s.status, s.error) for s in samples if s.status != 200]
    assert samples and not failed, f"{len(failed)}/{len(samples)} failed: {failed[:5]}"
    after = served_certificate(tls_cluster)
    assert after != before, "the VIP still serves the old certificate"
    CERTS.update(before=before, after=after)


def test_a_rollback_of_the_rotation_serves_the_old_certificate(tls_cluster):
    """`inv rollback --last` puts the old pem back (its diff never shown: the secret scan below reads the
    output) and haproxy serves the old certificate; the next provision brings the new one back."""
    result = run(tls_cluster.inv, "rollback", "--last", timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "<show_changes=False>" in result.stdout or "cluster.pem" in result.stdout, result.stdout[-2000:]
    assert served_certificate(tls_cluster) == CERTS["before"]
    again = run(tls_cluster.inv, "provision", timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-2000:]
    assert served_certificate(tls_cluster) == CERTS["after"]


def test_an_outage_probes_over_https(tls_cluster):
    result = run(tls_cluster.inv, "outage", "--host", "web2", "--json", "--duration", "3", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    report = json.loads(result.stdout)
    outage = report
    assert outage["ok"] and outage["scheme"] == "https", outage
    assert outage["probe"]["statuses"].get("200", 0) > 0 and "301" not in outage["probe"]["statuses"]


def test_a_drill_probes_over_https_and_holds(tls_cluster):
    """The whole outage table over HTTPS (a new handshake per request): every scenario held and was
    restored, the failover windows measured as over HTTP."""
    result = run(tls_cluster.inv, "drill", "--json", "--duration", "2", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    drill = json.loads(result.stdout)
    scenarios = drill["scenarios"]
    assert drill["ok"] and len(scenarios) == 7, [(s.get("scenario"), s.get("ok")) for s in scenarios]
    assert all(s["ok"] and s["scheme"] == "https" and s["restored"] for s in scenarios), scenarios
    assert all("window_ms" in s["probe"] and "301" not in s["probe"]["statuses"] for s in scenarios), scenarios


def test_salt_export_holds_the_pem_0600(tls_cluster, tmp_path):
    out = tmp_path / "salt"
    result = run(tls_cluster.inv, "salt.export", "--out", str(out))
    assert result.returncode == 0, result.stderr
    pillar = out / "pillar" / "hosts" / "hap1.sls"
    assert pillar.stat().st_mode & 0o777 == 0o600
    with open(os.path.join(tls_cluster.root, tls.SELF_SIGNED_DIR, "server.key")) as fh:
        key = fh.read()
    assert key.strip() in yaml.safe_load(pillar.read_text())["tls_pem"]
    assert "tls_pem" not in yaml.safe_load((out / "pillar" / "hosts" / "web1.sls").read_text())


def test_no_output_shows_the_private_key(tls_cluster):
    """Every output above, and provision's check mode (diffs on), never shows a line of the key."""
    for args in (["provision", "--check"], ["provision", "--check", "--json"], ["verify"]):
        run(tls_cluster.inv, *args, timeout=300)
    lines = [line for key in KEYS + [key_lines(tls_cluster)] for line in key]
    assert lines and len(KEYS) == 1 and len(OUTPUTS) >= 10
    for text in OUTPUTS:
        for line in lines:
            assert line not in text, text[-2000:]
        assert "PRIVATE KEY" not in text


def test_tls_none_again_stops_443_and_removes_the_pem(tls_cluster):
    """Last: back to plain HTTP, the LBs serve port 80 only and keep no certificate or key."""
    with open(tls_cluster.path) as fh:
        text = fh.read()
    with open(tls_cluster.path, "w") as fh:
        fh.write(text.replace("  tls: self-signed\n", ""))
    result = run(tls_cluster.inv, "provision", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for lb in ("hap1", "hap2"):
        left = tls_cluster.ssh(lb, "test -e /etc/haproxy/tls/cluster.pem && echo left; ss -Hltn 'sport = :443'")
        assert left.stdout.strip() == "", (lb, left.stdout)
    verified = run(tls_cluster.inv, "verify", "--settle", "20", timeout=300)
    assert verified.returncode == 0, verified.stdout[-3000:]
    again = run(tls_cluster.inv, "provision", timeout=600)
    assert "changed=0" in again.stdout, again.stdout[-2000:]
