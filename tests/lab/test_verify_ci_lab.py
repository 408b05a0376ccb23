"""`inv verify` for CI and monitoring on the provisioned seed cluster (the session's `cluster` fixture):
the JUnit file a real `inv verify --junit` writes, parsed back, says what its `--json` says; each LB's
Prometheus metrics answer this machine (the operator: the lab bridge, cluster.metrics_from's default)
behind the stats credentials, refuse every other source, and show the web servers' state.
"""

import json
import os
import time
import xml.etree.ElementTree as ET

import pytest

from hafab.cluster import probe
from hafab.verify import judge_metrics, probes

pytestmark = pytest.mark.lab


def stats_password(cluster):
    with open(os.path.join(cluster.root, ".secrets", "stats-password")) as fh:
        return fh.read().strip()


def verify_both(cluster, junit_path):
    result = cluster.inv("verify", "--json", "--junit", junit_path, "--settle", "30", timeout=120)
    assert result.returncode in (0, 1), result.stderr
    return result, json.loads(result.stdout)


def wait_all_up(cluster, seconds):
    prober = probe.Prober(cluster.inventory)
    auth = probe.basic_auth(probes.STATS_USER, stats_password(cluster))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        states = [judge_metrics.server_states(prober.get(lb.address, "/metrics", port=probes.metrics_port(lb),
                                                         headers=auth, timeout=2).body or "")
                  for lb in cluster.inventory.lbs()]
        if all(set(s.values()) == {"UP"} and len(s) == len(cluster.inventory.webs()) for s in states):
            return
        time.sleep(0.2)
    raise AssertionError(f"the web servers were not all UP on every LB within {seconds} s")


def test_junit_file_matches_the_json(cluster, tmp_path):
    path = str(tmp_path / "verify.xml")
    result, doc = verify_both(cluster, path)
    assert result.returncode == 0, "\n".join(f"{c['name']} {c['host']}: {c['detail']}"
                                             for c in doc["checks"] if not c["ok"])
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    checks = doc["checks"]
    assert int(suite.get("tests")) == len(checks) == int(root.get("tests"))
    assert int(suite.get("failures")) == sum(1 for c in checks if not c["ok"]) == 0
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name"), c.find("system-out").text or "") for c in cases] == \
           [(c["host"], c["name"], c["detail"]) for c in checks]
    assert {c["name"] for c in checks} >= {"ssh", "round-robin", "stats-backends"}
    metrics = {c["host"]: c for c in checks if c["name"] == "metrics"}
    assert sorted(metrics) == ["hap1", "hap2"]
    assert all("web1 UP, web2 UP" in c["detail"] for c in metrics.values()), metrics
    with open(path, encoding="utf-8") as fh:
        assert stats_password(cluster) not in fh.read()
    assert os.listdir(tmp_path) == ["verify.xml"]


def test_junit_failures_match_the_json(cluster, tmp_path):
    """A failing run (a web server's Apache stopped) has the same failures in both, with their evidence."""
    assert cluster.ssh("web2", "systemctl stop apache2").returncode == 0
    try:
        path = str(tmp_path / "failing.xml")
        result, doc = verify_both(cluster, path)
        assert result.returncode == 1
        failed = [(c["host"], c["name"], c["detail"]) for c in doc["checks"] if not c["ok"]]
        root = ET.parse(path).getroot()
        found = [(c.get("classname"), c.get("name"), c.find("failure").get("message"))
                 for c in root.iter("testcase") if c.find("failure") is not None]
        assert found == [(h, n, d.replace("\n", "\\n").replace("\t", "\\t")) for h, n, d in failed] and found
        assert int(root.get("failures")) == len(failed)
        assert ("web2", "services") in {(h, n) for h, n, _ in found}
        for lb in ("hap1", "hap2"):   # each LB's metrics show web2 DOWN (its health checks failed)
            assert any(h == lb and n == "metrics" and "web2 DOWN" in m for h, n, m in found), found
    finally:
        assert cluster.ssh("web2", "systemctl start apache2").returncode == 0
    # --settle waits for the VIP to serve every web; the other LB's health checks may still see web2 DOWN
    # for a moment (rise 2): wait, bounded, until every LB's metrics show it UP again
    wait_all_up(cluster, seconds=20)
    result, doc = verify_both(cluster, str(tmp_path / "again.xml"))
    assert result.returncode == 0, [c for c in doc["checks"] if not c["ok"]]


def test_metrics_answer_the_operator_behind_the_stats_credentials(cluster):
    prober = probe.Prober(cluster.inventory)     # lab: every address's route through the lab bridge checked
    auth = probe.basic_auth(probes.STATS_USER, stats_password(cluster))
    for lb in cluster.inventory.lbs():
        port = probes.metrics_port(lb)
        assert prober.get(lb.address, "/metrics", port=port, timeout=2).status == 401
        wrong = probe.basic_auth(probes.STATS_USER, "not-the-password-0123456789")
        assert prober.get(lb.address, "/metrics", port=port, headers=wrong, timeout=2).status == 401
        scraped = prober.get(lb.address, "/metrics", port=port, headers=auth, timeout=5)
        assert scraped.status == 200 and "haproxy_process_uptime_seconds" in scraped.body
        assert judge_metrics.server_states(scraped.body) == {"web1": "UP", "web2": "UP"}
        assert prober.get(lb.address, "/other", port=port, headers=auth, timeout=2).status == 404
        assert prober.get(cluster.inventory.cluster["vip"], "/metrics", port=port, timeout=2).status is None


@pytest.mark.parametrize("source", ["web1", "hap2"])
def test_metrics_refuse_every_other_source(cluster, source):
    """From a host of the cluster (not cluster.metrics_from) the connection is refused before any HTTP."""
    target = "hap1"
    url = f"http://{cluster.address(target)}:{probes.metrics_port(cluster.inventory.hosts[target])}/metrics"
    result = cluster.ssh(source, f"curl -s -m 3 -o /dev/null -w '%{{http_code}}' {url}; echo \" rc=$?\"")
    code, rc = result.stdout.split()
    assert code == "000" and rc != "rc=0", result.stdout
