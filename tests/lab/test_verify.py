"""`inv verify` on the provisioned seed cluster (the session's `cluster` fixture): it passes, and for each
thing the issue lists, breaking exactly that thing fails exactly the checks that watch it, naming them,
while every other check passes. Each test restores what it broke; after each one the cluster must verify
clean again (bounded wait) before the next starts.
"""

import json
import re
import subprocess
import time

import pytest

from hafab import lab

pytestmark = pytest.mark.lab

SETTLE = 30   # seconds a breakage or a restore may take to show (health checks, VRRP, reloads)


def verify(cluster, *args):
    result = cluster.inv("verify", "--json", *args, timeout=60)
    assert result.returncode in (0, 1), result.stderr
    doc = json.loads(result.stdout)
    assert result.returncode == (0 if doc["ok"] else 1)
    return doc


def failing(doc):
    return {(c["name"], c["host"]) for c in doc["checks"] if not c["ok"]}


def explain(doc):
    return "\n".join(f"{c['name']} {c['host']}: {c['detail']}" for c in doc["checks"] if not c["ok"])


def wait_for(cluster, expected, seconds=SETTLE):
    """Run verify until exactly `expected` ({(name, host)}, or a predicate of the failing set) fails;
    bounded. Returns the last report."""
    done = expected if callable(expected) else (lambda bad: bad == set(expected))
    deadline = time.monotonic() + seconds
    while True:
        doc = verify(cluster)
        if done(failing(doc)) or time.monotonic() > deadline:
            return doc
        time.sleep(0.5)


def vip_holder(cluster):
    vip = cluster.inventory.cluster["vip"]
    for lb in cluster.inventory.lbs():
        out = subprocess.run(["ip", "-n", lab.host_netns(cluster.inventory, lb.name), "-4", "-o", "addr"],
                             capture_output=True, text=True, timeout=10).stdout
        if f" {vip}/" in out:
            return lb.name
    return None


def other_lb(cluster, name):
    return next(lb.name for lb in cluster.inventory.lbs() if lb.name != name)


def ssh_ok(cluster, host, command):
    result = cluster.ssh(host, command)
    assert result.returncode == 0, f"{host}: {command}: {result.stderr}"
    return result.stdout


@pytest.fixture(autouse=True)
def clean_cluster(cluster):
    """Every test starts and ends with a cluster that verifies clean."""
    doc = wait_for(cluster, set())
    assert doc["ok"], "cluster not clean before the test:\n" + explain(doc)
    yield
    doc = wait_for(cluster, set())
    assert doc["ok"], "the test's restore left the cluster broken:\n" + explain(doc)


def test_verify_passes_quickly_with_a_table(cluster):
    result = cluster.inv("verify", timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"(\d+) checks, (\d+) passed, 0 failed in (\d+\.\d\d) s", summary)
    assert match, summary
    assert match.group(1) == match.group(2) and int(match.group(1)) >= 28
    assert float(match.group(3)) <= 3.0, summary
    with open(f"{cluster.root}/.secrets/stats-password") as f:
        assert f.read().strip() not in result.stdout + result.stderr


def test_json_names_every_check_of_the_issue(cluster):
    doc = verify(cluster, "--requests", "30")
    assert set(doc) == {"ok", "checks"} and doc["ok"]
    names = {c["name"] for c in doc["checks"]}
    assert names >= {"ssh", "services", "web-page", "direct-blocked", "round-robin", "vip-holder",
                     "keepalived-state", "vip-arp", "stats-auth", "stats-backends", "stats-holder",
                     "access-log", "no-health-check-logs", "haproxy-log", "nonlocal-bind", "haproxy-config"}
    rr = next(c for c in doc["checks"] if c["name"] == "round-robin")
    assert "web1 15, web2 15" in rr["detail"]


def test_keepalived_stopped_on_the_holder_moves_the_vip_and_fails_services(cluster):
    old = vip_holder(cluster)
    new = other_lb(cluster, old)
    try:
        ssh_ok(cluster, old, "systemctl stop keepalived")
        doc = wait_for(cluster, {("services", old)})
        assert failing(doc) == {("services", old)}, explain(doc)
        assert vip_holder(cluster) == new
        detail = {(c["name"], c["host"]): c["detail"] for c in doc["checks"]}
        assert "keepalived inactive" in detail[("services", old)]
        assert ("vip-holder", new) in detail and ("stats-holder", new) in detail
    finally:
        ssh_ok(cluster, old, "systemctl start keepalived")


def test_no_lb_holds_the_vip_fails_fast(cluster):
    lbs = [lb.name for lb in cluster.inventory.lbs()]
    try:
        for lb in lbs:
            ssh_ok(cluster, lb, "systemctl stop keepalived")
        started = time.monotonic()
        doc = verify(cluster)
        elapsed = time.monotonic() - started
        bad = failing(doc)
        assert ("vip-holder", "vip") in bad and ("round-robin", "vip") in bad, explain(doc)
        assert {("services", lb) for lb in lbs} <= bad
        assert "outage" in next(c["detail"] for c in doc["checks"] if c["name"] == "vip-holder")
        assert elapsed < 8, f"verify took {elapsed:.1f} s with the VIP down"
    finally:
        for lb in lbs:
            ssh_ok(cluster, lb, "systemctl start keepalived")


def test_apache_stopped_on_web2(cluster):
    expected = {("services", "web2"), ("web-page", "web2"), ("round-robin", "vip"), ("stats-backends", "vip")}
    try:
        ssh_ok(cluster, "web2", "systemctl stop apache2")
        doc = wait_for(cluster, expected)
        assert failing(doc) == expected, explain(doc)
        detail = {(c["name"], c["host"]): c["detail"] for c in doc["checks"]}
        assert "never web2" in detail[("round-robin", "vip")]
        assert "web2 DOWN" in detail[("stats-backends", "vip")]
    finally:
        ssh_ok(cluster, "web2", "systemctl start apache2")


def test_wrong_page_on_web1(cluster):
    page = "/var/www/html/index.html"
    try:
        ssh_ok(cluster, "web1", f"cp -p {page} /root/index.html.verify-test && "
                                f"sed -i 's|<h1>web1</h1>|<h1>hello</h1>|' {page}")
        doc = wait_for(cluster, {("web-page", "web1")})
        assert failing(doc) == {("web-page", "web1")}, explain(doc)
    finally:
        ssh_ok(cluster, "web1", f"mv /root/index.html.verify-test {page}")


def test_nonlocal_bind_removed_on_the_backup(cluster):
    lb = other_lb(cluster, vip_holder(cluster))
    conf = "/etc/sysctl.d/60-hafab.conf"
    try:
        ssh_ok(cluster, lb, f"mv {conf} /root/60-hafab.conf.verify-test && sysctl -q -w net.ipv4.ip_nonlocal_bind=0")
        doc = wait_for(cluster, {("nonlocal-bind", lb)})
        assert failing(doc) == {("nonlocal-bind", lb)}, explain(doc)
        detail = next(c["detail"] for c in doc["checks"] if c["name"] == "nonlocal-bind" and c["host"] == lb)
        assert "live value 0" in detail and "not persisted" in detail
    finally:
        ssh_ok(cluster, lb, f"mv /root/60-hafab.conf.verify-test {conf} && sysctl -q -w net.ipv4.ip_nonlocal_bind=1")


def test_firewall_rule_removed_on_web1(cluster):
    try:
        ssh_ok(cluster, "web1", "nft flush chain inet hafab input")
        doc = wait_for(cluster, {("direct-blocked", "web1")})
        assert failing(doc) == {("direct-blocked", "web1")}, explain(doc)
        detail = next(c["detail"] for c in doc["checks"] if c["name"] == "direct-blocked" and c["host"] == "web1")
        assert "answered HTTP 200 from web1" in detail
    finally:
        ssh_ok(cluster, "web1", "nft -f /etc/nftables.conf")


def test_health_checks_logged_on_web2(cluster):
    vhost = "/etc/apache2/sites-available/000-default.conf"
    try:
        ssh_ok(cluster, "web2", f"cp -p {vhost} /root/000-default.conf.verify-test && "
                                f"sed -i 's/ env=!do-not-log-haproxy-ping//' {vhost} && systemctl reload apache2")
        doc = wait_for(cluster, {("no-health-check-logs", "web2")})
        assert failing(doc) == {("no-health-check-logs", "web2")}, explain(doc)
        detail = next(c["detail"] for c in doc["checks"] if c["name"] == "no-health-check-logs" and c["host"] == "web2")
        assert '"OPTIONS / HTTP/1.0"' in detail
    finally:
        ssh_ok(cluster, "web2", f"mv /root/000-default.conf.verify-test {vhost} && systemctl reload apache2")


def test_client_address_lost_in_the_access_log(cluster):
    # Without mod_remoteip's configuration Apache logs the LB's address instead of the client's.
    try:
        for web in ("web1", "web2"):
            ssh_ok(cluster, web, "a2disconf -q remoteip && systemctl reload apache2")
        doc = wait_for(cluster, lambda bad: {name for name, _ in bad} == {"access-log"} and len(bad) == 1,
                       seconds=10)
        bad = failing(doc)
        assert len(bad) == 1 and next(iter(bad))[0] == "access-log", explain(doc)
        assert "LB's address" in next(c["detail"] for c in doc["checks"] if c["name"] == "access-log")
    finally:
        for web in ("web1", "web2"):
            ssh_ok(cluster, web, "a2enconf -q remoteip && systemctl reload apache2")


def test_haproxy_log_silent_on_the_holder(cluster):
    holder = vip_holder(cluster)
    try:
        ssh_ok(cluster, holder, "systemctl stop syslog.socket rsyslog.service")
        doc = wait_for(cluster, {("haproxy-log", holder)})
        assert failing(doc) == {("haproxy-log", holder)}, explain(doc)
    finally:
        ssh_ok(cluster, holder, "systemctl start rsyslog.service syslog.socket")


def test_invalid_live_haproxy_config_on_the_backup(cluster):
    lb = other_lb(cluster, vip_holder(cluster))
    cfg = "/etc/haproxy/haproxy.cfg"
    try:
        # the running haproxy is not reloaded: only `haproxy -c` on the live file can tell
        ssh_ok(cluster, lb, f"cp -p {cfg} /root/haproxy.cfg.verify-test && printf 'frontend broken\\n    bogus_keyword 1\\n' >> {cfg}")
        doc = wait_for(cluster, {("haproxy-config", lb)})
        assert failing(doc) == {("haproxy-config", lb)}, explain(doc)
        assert "bogus_keyword" in next(c["detail"] for c in doc["checks"] if c["name"] == "haproxy-config"
                                       and c["host"] == lb)
    finally:
        ssh_ok(cluster, lb, f"mv /root/haproxy.cfg.verify-test {cfg}")


def test_split_brain_vip_on_both_lbs(cluster):
    holder = vip_holder(cluster)
    lb = other_lb(cluster, holder)
    vip, iface = cluster.inventory.cluster["vip"], cluster.inventory.cluster["interface"]
    try:
        ssh_ok(cluster, lb, f"ip addr add {vip}/32 dev {iface}")
        doc = wait_for(cluster, {("vip-holder", "vip")}, seconds=5)
        assert failing(doc) == {("vip-holder", "vip")}, explain(doc)
        assert "split brain" in next(c["detail"] for c in doc["checks"] if c["name"] == "vip-holder")
    finally:
        cluster.ssh(lb, f"ip addr del {vip}/32 dev {iface}")


def test_keepalived_backup_claiming_master(cluster):
    lb = other_lb(cluster, vip_holder(cluster))
    state = "/run/keepalived/state"
    try:
        ssh_ok(cluster, lb, f"cp {state} /root/state.verify-test && sed -i 's/^BACKUP /MASTER /' {state}")
        doc = wait_for(cluster, {("keepalived-state", lb)}, seconds=5)
        assert failing(doc) == {("keepalived-state", lb)}, explain(doc)
    finally:
        ssh_ok(cluster, lb, f"mv /root/state.verify-test {state}")


def test_wrong_stats_password(cluster):
    path = f"{cluster.root}/.secrets/stats-password"
    with open(path) as f:
        saved = f.read()
    expected = {("stats-auth", "vip"), ("stats-backends", "vip"), ("stats-holder", vip_holder(cluster))}
    try:
        with open(path, "w") as f:
            f.write("not-the-password\n")
        doc = verify(cluster)
        assert failing(doc) == expected, explain(doc)
        assert "401 with the cluster's" in next(c["detail"] for c in doc["checks"] if c["name"] == "stats-auth")
        assert "not-the-password" not in json.dumps(doc)
    finally:
        with open(path, "w") as f:
            f.write(saved)


def _set_cluster(cluster, key, value):
    """Change one cluster setting in this cluster's hosts.yaml and provision it."""
    with open(cluster.path) as f:
        text = f.read()
    text, found = re.subn(rf"(?m)^(\s*{key}:\s*)\S+", lambda m: m.group(1) + value, text)
    assert found == 1, f"no cluster.{key} line in {cluster.path}"
    with open(cluster.path, "w") as f:
        f.write(text)
    result = cluster.inv("provision", timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


@pytest.mark.parametrize("mode, words", [("cookie", "cookie SERVERID="), ("source", "requests from this machine on")])
def test_persistence_is_checked_when_set(cluster, mode, words):
    try:
        _set_cluster(cluster, "persistence", mode)
        doc = wait_for(cluster, set())
        assert doc["ok"], explain(doc)
        check = next(c for c in doc["checks"] if c["name"] == "persistence")
        assert words in check["detail"], check
        assert any(c["name"] == "round-robin" for c in doc["checks"]) == (mode == "cookie")
    finally:
        _set_cluster(cluster, "persistence", "none")


def test_layer4_mode_verifies_too(cluster):
    # mode tcp: the pages are fetched from the LBs with the PROXY protocol, the stats page has its own port
    try:
        _set_cluster(cluster, "mode", "tcp")
        doc = wait_for(cluster, set())
        assert doc["ok"], explain(doc)
        assert {c["name"] for c in doc["checks"]} >= {"round-robin", "access-log", "stats-holder"}
    finally:
        _set_cluster(cluster, "mode", "http")
