"""Rollback on the lab: a bad-but-valid haproxy.cfg change rolled back under load fails no request,
and drift is an exit code (`provision --check --detailed-exitcode`)."""

import json
import os
import time

import pytest

from hafab.cluster import probe
from hafab.outage import figures, load

pytestmark = pytest.mark.lab

CONFIG = "/etc/haproxy/haproxy.cfg"


def _file_state(cluster, host):
    out = cluster.ssh(host, f"sha256sum {CONFIG} | cut -d' ' -f1; stat -c '%a %U %G' {CONFIG}; "
                            "systemctl show -p MainPID --value haproxy")
    assert out.returncode == 0, out.stderr
    sha, meta, pid = out.stdout.split("\n")[:3]
    return sha, meta, pid


def test_rollback_of_a_haproxy_change_under_load_fails_no_request(cluster):
    lbs = ("hap1", "hap2")
    before = {h: _file_state(cluster, h) for h in lbs}
    path = os.path.join(cluster.root, "files/haproxy/haproxy.cfg")
    with open(path) as f:
        original = f.read()
    with open(path, "w") as f:   # a valid config with a wrong weight: haproxy -c accepts it
        f.write(original.replace("maxconn 32 check", "maxconn 32 check weight 7", 1))
    try:
        change = cluster.inv("provision", "--json")
    finally:
        with open(path, "w") as f:
            f.write(original)
    assert change.returncode == 0, change.stderr[-2000:]
    assert all(_file_state(cluster, h)[0] != before[h][0] for h in lbs)
    holder = json.loads(cluster.inv("lab.status", "--json").stdout)["vip_holder"]
    traffic = load.Load(probe.Prober(cluster.inventory), cluster.inventory.cluster["vip"], rate=100,
                        max_seconds=90).start()
    try:
        time.sleep(1)
        back = cluster.inv("rollback", "--last", "--json")
        time.sleep(1)
    finally:
        samples = traffic.stop()
    assert back.returncode == 0, back.stdout[-2000:] + back.stderr[-2000:]
    after = {h: _file_state(cluster, h) for h in lbs}
    assert after == before      # content, mode, owner; and the same haproxy master pid: a reload
    summary = figures.summarize(samples, 0.01)
    assert summary["requests"] >= 200 and summary["failed"] == 0, summary
    events = [line.split(" - ", 1)[1] for line in back.stderr.splitlines() if " - " in line]
    other = ({"hap1", "hap2"} - {holder}).pop()
    assert events.index(f"{other}: haproxy-service: changed") < events.index(
        f"{holder}: rollback {CONFIG}: changed"), events
    doc = json.loads(back.stdout)
    for lb in lbs:
        reloads = [r for r in doc["hosts"][lb].values() if r["__id__"] == "haproxy-service"]
        assert reloads and reloads[0]["changes"] and "reload" in reloads[0]["comment"]
    assert json.loads(cluster.inv("provision", "--json").stdout)["summary"]["changed"] == 0


def test_detailed_exitcode_on_the_lab(cluster):
    converged = cluster.inv("provision", "--check", "--detailed-exitcode")
    assert converged.returncode == 0, converged.stdout[-2000:] + converged.stderr[-2000:]
    index = "/var/www/html/index.html"
    edit = cluster.ssh("web2", f"echo 'edited by hand' >> {index}")
    assert edit.returncode == 0
    try:
        drift = cluster.inv("provision", "--check", "--detailed-exitcode")
        assert drift.returncode == 3, drift.stderr[-2000:]
        assert "-edited by hand" in drift.stdout and "web2:" in drift.stdout
    finally:
        assert cluster.inv("provision").returncode == 0
