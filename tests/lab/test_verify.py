"""`inv verify` on the provisioned seed cluster (the session's `cluster` fixture): it passes, and for each
thing the issue lists, breaking exactly that thing fails exactly the checks that watch it, naming them,
while every other check passes (one table, BREAKAGES: what to break, which checks fail, how to restore).
Each test restores what it broke; after each one the cluster must verify clean again (bounded wait)
before the next starts.
"""

import json
import re
import subprocess
import time
from dataclasses import dataclass

import pytest

from hafab import lab
from hafab.cluster import haproxy, keepalived

pytestmark = pytest.mark.lab

SETTLE = 30   # seconds a breakage or a restore may take to show (health checks, VRRP, reloads)
ANY = "*"     # in a breakage's failing checks: on whichever host


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
        if keepalived.holds_vip(out, vip):
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
                     "access-log", "no-health-check-logs", "haproxy-log", "nonlocal-bind", "haproxy-config",
                     "metrics"}
    rr = next(c for c in doc["checks"] if c["name"] == "round-robin")
    assert "web1 15, web2 15" in rr["detail"]


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


# --- break one thing, verify fails exactly its checks, restore it -----------------------------------

def places(cluster):
    """Who is who right now: the VIP's holder and the other LB (the backup), and the VIP's address."""
    holder = vip_holder(cluster)
    return {"holder": holder, "backup": other_lb(cluster, holder), "webs": ("web1", "web2"),
            "vip": cluster.inventory.cluster["vip"], "iface": cluster.inventory.cluster["interface"]}


def on(who, command, checked=True):
    """Run `command` (formatted with the places) over SSH on `who`: a host, 'holder', 'backup' or 'webs'."""
    def run(cluster, at):
        hosts = at.get(who, who)
        for host in (hosts,) if isinstance(hosts, str) else hosts:
            text = command.format(**at)
            if checked:
                ssh_ok(cluster, host, text)
            else:
                cluster.ssh(host, text)
    return run


def stats_password_file(cluster):
    return f"{cluster.root}/.secrets/stats-password"


def write_wrong_stats_password(cluster, at):
    with open(stats_password_file(cluster)) as f:
        at["saved password"] = f.read()
    with open(stats_password_file(cluster), "w") as f:
        f.write("not-the-password\n")


def restore_stats_password(cluster, at):
    if "saved password" in at:
        with open(stats_password_file(cluster), "w") as f:
            f.write(at["saved password"])


@dataclass
class Breakage:
    name: str
    do: object                # (cluster, places) -> None: break the thing
    undo: object              # (cluster, places) -> None: restore it (always run)
    fails: set                # exactly these {(check, host)} fail; host may be a place or ANY
    details: tuple = ()       # (check, host, words its detail must hold), ...
    seconds: float = SETTLE   # how long it may take to show; 0: the first verify must show it
    holder_after: str = None  # the place that must hold the VIP afterwards
    never_shown: str = None   # text that must not be anywhere in the JSON


PAGE = "/var/www/html/index.html"
SYSCTL = "/etc/sysctl.d/60-hafab.conf"
VHOST = "/etc/apache2/sites-available/000-default.conf"

BREAKAGES = [
    Breakage("keepalived stopped on the holder moves the VIP and fails services",
             on("holder", "systemctl stop keepalived"), on("holder", "systemctl start keepalived"),
             {("services", "holder")},
             (("services", "holder", "keepalived inactive"), ("vip-holder", "backup", ""),
              ("stats-holder", "backup", "")), holder_after="backup"),
    Breakage("apache stopped on web2", on("web2", "systemctl stop apache2"), on("web2", "systemctl start apache2"),
             {("services", "web2"), ("web-page", "web2"), ("round-robin", "vip"), ("stats-backends", "vip"),
              ("metrics", "hap1"), ("metrics", "hap2")},
             (("round-robin", "vip", "never web2"), ("stats-backends", "vip", "web2 DOWN"),
              ("metrics", "hap1", "web2 DOWN"), ("metrics", "hap2", "web2 DOWN"))),
    Breakage("wrong page on web1",
             on("web1", f"cp -p {PAGE} /root/index.html.verify-test && "
                        f"sed -i 's|<h1>web1</h1>|<h1>hello</h1>|' {PAGE}"),
             on("web1", f"mv /root/index.html.verify-test {PAGE}"), {("web-page", "web1")}),
    Breakage("nonlocal bind removed on the backup",
             on("backup", f"mv {SYSCTL} /root/60-hafab.conf.verify-test && sysctl -q -w net.ipv4.ip_nonlocal_bind=0"),
             on("backup", f"mv /root/60-hafab.conf.verify-test {SYSCTL} && sysctl -q -w net.ipv4.ip_nonlocal_bind=1"),
             {("nonlocal-bind", "backup")}, (("nonlocal-bind", "backup", "live value 0"),
                                             ("nonlocal-bind", "backup", "not persisted"))),
    Breakage("firewall rule removed on web1", on("web1", "nft flush chain inet hafab input"),
             on("web1", "nft -f /etc/nftables.conf"), {("direct-blocked", "web1")},
             (("direct-blocked", "web1", "answered HTTP 200 from web1"),)),
    Breakage("health checks logged on web2",
             on("web2", f"cp -p {VHOST} /root/000-default.conf.verify-test && "
                        f"sed -i 's/ env=!do-not-log-haproxy-ping//' {VHOST} && systemctl reload apache2"),
             on("web2", f"mv /root/000-default.conf.verify-test {VHOST} && systemctl reload apache2"),
             {("no-health-check-logs", "web2")}, (("no-health-check-logs", "web2", '"OPTIONS / HTTP/1.0"'),)),
    # Without mod_remoteip's configuration Apache logs the LB's address instead of the client's.
    Breakage("client address lost in the access log", on("webs", "a2disconf -q remoteip && systemctl reload apache2"),
             on("webs", "a2enconf -q remoteip && systemctl reload apache2"),
             {("access-log", ANY)}, (("access-log", ANY, "LB's address"),), seconds=10),
    Breakage("haproxy log silent on the holder", on("holder", "systemctl stop syslog.socket rsyslog.service"),
             on("holder", "systemctl start rsyslog.service syslog.socket"), {("haproxy-log", "holder")}),
    # the running haproxy is not reloaded: only `haproxy -c` on the live file can tell
    Breakage("invalid live haproxy config on the backup",
             on("backup", f"cp -p {haproxy.CONFIG} /root/haproxy.cfg.verify-test && "
                          f"printf 'frontend broken\\n    bogus_keyword 1\\n' >> {haproxy.CONFIG}"),
             on("backup", f"mv /root/haproxy.cfg.verify-test {haproxy.CONFIG}"),
             {("haproxy-config", "backup")}, (("haproxy-config", "backup", "bogus_keyword"),)),
    Breakage("VIP on both LBs (split brain)", on("backup", "ip addr add {vip}/32 dev {iface}"),
             on("backup", "ip addr del {vip}/32 dev {iface}", checked=False),
             {("vip-holder", "vip")}, (("vip-holder", "vip", "split brain"),), seconds=5),
    Breakage("keepalived backup claiming master",
             on("backup", f"cp {keepalived.STATE_FILE} /root/state.verify-test && "
                          f"sed -i 's/^BACKUP /MASTER /' {keepalived.STATE_FILE}"),
             on("backup", f"mv /root/state.verify-test {keepalived.STATE_FILE}"),
             {("keepalived-state", "backup")}, seconds=5),
    Breakage("wrong stats password", write_wrong_stats_password, restore_stats_password,
             {("stats-auth", "vip"), ("stats-backends", "vip"), ("stats-holder", "holder"),
              ("metrics", "hap1"), ("metrics", "hap2")},
             (("stats-auth", "vip", "401 with the cluster's"), ("metrics", "hap1", "401 with the stats credentials")),
             seconds=0, never_shown="not-the-password"),
]


def resolve(at, host):
    """A host of a breakage's checks: 'holder' and 'backup' are the places' LBs; others are as written."""
    return at[host] if host in ("holder", "backup") else host


def matches(bad, expected):
    """The failing set is exactly `expected` ({(check, host or ANY)})."""
    return len(bad) == len(expected) and all(
        any(name == check and (host == want or want == ANY) for name, host in bad) for check, want in expected)


def detail_of(doc, check, host):
    found = [c["detail"] for c in doc["checks"] if c["name"] == check and host in (c["host"], ANY)]
    assert found, f"no {check} check on {host}:\n" + explain(doc)
    return found[0]


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda b: b.name.replace(" ", "-"))
def test_breaking_one_thing_fails_exactly_its_checks(cluster, breakage):
    at = places(cluster)
    expected = {(check, resolve(at, host)) for check, host in breakage.fails}
    try:
        breakage.do(cluster, at)
        doc = wait_for(cluster, lambda bad: matches(bad, expected), seconds=breakage.seconds)
        assert matches(failing(doc), expected), explain(doc)
        for check, host, words in breakage.details:
            assert words in detail_of(doc, check, resolve(at, host)), explain(doc)
        if breakage.holder_after:
            assert vip_holder(cluster) == at[breakage.holder_after]
        if breakage.never_shown:
            assert breakage.never_shown not in json.dumps(doc)
    finally:
        breakage.undo(cluster, at)


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


# cluster setting, its value, the value to put back; words the persistence check must hold (None: no
# such check), checks that must be there, checks that must not
SETTINGS = [
    ("persistence", "cookie", "none", "cookie SERVERID=", {"round-robin"}, set()),
    ("persistence", "source", "none", "requests from this machine on", set(), {"round-robin"}),
    # mode tcp: the pages are fetched from the LBs with the PROXY protocol, the stats page has its own port
    ("mode", "tcp", "http", None, {"round-robin", "access-log", "stats-holder"}, set()),
]


@pytest.mark.parametrize("key, value, back, words, present, absent", SETTINGS,
                         ids=[f"{key}-{value}" for key, value, *_ in SETTINGS])
def test_a_cluster_setting_verifies_clean(cluster, key, value, back, words, present, absent):
    try:
        _set_cluster(cluster, key, value)
        doc = wait_for(cluster, set())
        assert doc["ok"], explain(doc)
        names = {c["name"] for c in doc["checks"]}
        if words is not None:
            check = next(c for c in doc["checks"] if c["name"] == "persistence")
            assert words in check["detail"], check
        assert names >= present and not names & absent, names
    finally:
        _set_cluster(cluster, key, back)
