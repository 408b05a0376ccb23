"""verify's report from gathered facts (no network): each broken fact fails exactly its check; CLI exit codes."""

import copy
import os
import subprocess
import sys

import pytest

from hafab import verify
from hafab.cluster import inventory
from hafab.verify.judge import Check
from hafab.cluster.probe import Response, served_by

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOSTS = """\
cluster: {vip: 10.123.0.10, subnet: 10.123.0.0/24, interface: eth1, virtual_router_id: 7}
hosts:
  hap1: {address: 10.123.0.11, roles: [lb], priority: 101}
  hap2: {address: 10.123.0.12, roles: [lb], priority: 100}
  web1: {address: 10.123.0.21, roles: [web]}
  web2: {address: 10.123.0.22, roles: [web]}
"""
MARK = "hafab-verify-0123456789abcdef"
CLIENT = ("10.123.0.1", 40000)
HEADER = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,x,y"


def frontends(stot):
    return f"{HEADER}\nhttp-in,FRONTEND,,,0,2,2000,{stot},1,1,0,0,0,,,,,OPEN,,\nhealth,FRONTEND,,,0,1,2000,999,1,1,,,,,,,,OPEN,,\n"


def page(name, status=200, **extra):
    body = f"<html><h1>{name}</h1></html>"
    return Response(address="10.123.0.10", path="/", status=status, body=body, server=served_by(body, {}), **extra)


def lb(name, holder, pids, stot):
    vip_line = "\n4: eth1    inet 10.123.0.10/32 scope global eth1" if holder else ""
    number = name[-1]
    return verify.HostFacts(name, sections={
        "units": "haproxy active enabled\nkeepalived active enabled",
        "addr": f"4: eth1    inet 10.123.0.1{number}/24 brd 10.123.0.255 scope global eth1{vip_line}",
        "mac": f"02:00:00:00:00:0{number}",
        "keepalived": f"file {'MASTER' if holder else 'BACKUP'} 1795612040.5 VI_1 10{2 - int(number)}",
        "sysctl": "1", "sysctl_files": "/etc/sysctl.d/60-hafab.conf:net.ipv4.ip_nonlocal_bind = 1",
        "haproxy_check": "Configuration file is valid\nrc=0", "pids": pids, "frontends": frontends(stot),
        "page web1": "<html><h1>web1</h1></html>\n@@status 200", "page web2": "<html><h1>web2</h1></html>\n@@status 200",
        "haproxy_log": f'{CLIENT[0]}:{CLIENT[1]} [x] http-in webservers/web1 200 "GET /?hafab-verify={MARK} HTTP/1.1"'
        if holder else "",
        "end": ""})


def web(name, serving):
    line = (f'{CLIENT[0]} - - [25/Nov/2026:13:11:35 +0000] "GET /?hafab-verify={MARK} HTTP/1.1" 200 376 "-" '
            f'"hafab-verify/{MARK}" via=10.123.0.11')
    return verify.HostFacts(name, sections={
        "web_units": "apache2 active enabled", "access_log": line if serving else "",
        "options": '10.123.0.11 - - [25/Nov/2026:13:07:19 +0000] "OPTIONS / HTTP/1.0" 200 181 "-" "-"',
        "apache_loaded": "[Wed Nov 25 13:07:20.002572 2026] [mpm_event:notice] AH00489: ... resuming normal operations",
        "utc_offset": "+0000", "end": ""})


@pytest.fixture
def inv(tmp_path):
    (tmp_path / "hosts.yaml").write_text(HOSTS)
    return inventory.load(str(tmp_path / "hosts.yaml"))


@pytest.fixture
def gathered():
    """A healthy cluster as verify would have gathered it."""
    facts = {"hap1": lb("hap1", True, "636", 74), "hap2": lb("hap2", False, "519 636", 0),
             "web1": web("web1", True), "web2": web("web2", False)}
    stats_csv = frontends(74) + "webservers,web1,0,0,0,1,32,33,1,1,,0,,0,0,0,0,UP,1,1\n" \
                                "webservers,web2,0,0,0,1,32,32,1,1,,0,,0,0,0,0,UP,1,1\n"
    vip = verify.VipProbes(
        rounds=[page(n) for n in ["web1", "web2"] * 10], marker=page("web1", local=CLIENT),
        stats_anon=Response("10.123.0.10", "/haproxy?stats", status=401),
        stats_html=Response("10.123.0.10", "/haproxy?stats", status=200, body="Statistics Report for pid 636"),
        stats_csv=Response("10.123.0.10", "/haproxy?stats;csv", status=200, body=stats_csv))
    direct = {w: Response(a, "/", error="refused", latency=0.001) for w, a in
              (("web1", "10.123.0.21"), ("web2", "10.123.0.22"))}
    return {"facts": facts, "vip": vip, "direct": direct, "mac": "02:00:00:00:00:01"}


def run(inv, g):
    return verify.assemble(inv, g["facts"], g["vip"], g["direct"], g["mac"], MARK, CLIENT, "s3cret")


def failing(checks):
    return sorted((c.name, c.host) for c in checks if not c.ok)


def test_a_healthy_cluster_passes_every_check(inv, gathered):
    checks = run(inv, gathered)
    assert failing(checks) == [], [c for c in checks if not c.ok]
    names = [c.name for c in checks]
    for name in ("ssh", "services", "web-page", "direct-blocked", "round-robin", "vip-holder", "keepalived-state",
                 "vip-arp", "stats-auth", "stats-backends", "stats-holder", "access-log", "no-health-check-logs",
                 "haproxy-log", "nonlocal-bind", "haproxy-config"):
        assert name in names
    assert "persistence" not in names
    assert len(checks) == 28


BREAKS = {
    "keepalived stopped on hap2": (lambda g: g["facts"]["hap2"].sections.update(
        units="haproxy active enabled\nkeepalived inactive enabled"), [("services", "hap2")]),
    "web2 reachable directly": (lambda g: g["direct"].update(web2=page("web2")), [("direct-blocked", "web2")]),
    "wrong page on web1": (lambda g: g["facts"]["hap1"].sections.update({"page web1": "<h1>web2</h1>\n@@status 200"}),
                           [("web-page", "web1")]),
    "VIP on both LBs": (lambda g: g["facts"]["hap2"].sections.update(
        addr=g["facts"]["hap1"].sections["addr"]), [("vip-holder", "vip")]),
    "sysctl not persisted on hap1": (lambda g: g["facts"]["hap1"].sections.update(sysctl_files=""),
                                     [("nonlocal-bind", "hap1")]),
    "health check logged on web2": (lambda g: g["facts"]["web2"].sections.update(
        options='10.123.0.12 - - [25/Nov/2026:13:20:00 +0000] "OPTIONS / HTTP/1.0" 200 181 "-" "-"'),
        [("no-health-check-logs", "web2")]),
    "haproxy.log silent": (lambda g: g["facts"]["hap1"].sections.update(haproxy_log=""), [("haproxy-log", "hap1")]),
    "LB address logged": (lambda g: g["facts"]["web1"].sections.update(
        access_log=g["facts"]["web1"].sections["access_log"].replace("10.123.0.1 ", "10.123.0.11 ", 1)),
        [("access-log", "web1")]),
    "broken haproxy.cfg on hap2": (lambda g: g["facts"]["hap2"].sections.update(haproxy_check="[ALERT] x\nrc=1"),
                                   [("haproxy-config", "hap2")]),
    "ARP points at hap2": (lambda g: g.update(mac="02:00:00:00:00:02"), [("vip-arp", "hap1")]),
    "hap2 thinks it is MASTER": (lambda g: g["facts"]["hap2"].sections.update(keepalived="file MASTER 1 VI_1 100"),
                                 [("keepalived-state", "hap2")]),
    "stats open without password": (lambda g: setattr(g["vip"].stats_anon, "status", 200), [("stats-auth", "vip")]),
}


@pytest.mark.parametrize("what", sorted(BREAKS))
def test_each_broken_fact_fails_exactly_its_check(inv, gathered, what):
    breaker, expected = BREAKS[what]
    g = copy.deepcopy(gathered)
    breaker(g)
    assert failing(run(inv, g)) == sorted(expected)


def test_unreachable_host_fails_its_own_checks(inv, gathered):
    gathered["facts"]["web2"] = verify.HostFacts("web2", error="web2: unreachable: no answer on SSH within 5 s")
    bad = failing(run(inv, gathered))
    assert bad == [("no-health-check-logs", "web2"), ("services", "web2"), ("ssh", "web2")]


def test_table_and_json_shapes(inv, gathered):
    report = verify.Report(run(inv, gathered) + [Check("x", "hap1", False, "broken")], 0.4321)
    text = verify.table(report)
    assert text.splitlines()[-1] == "29 checks, 28 passed, 1 failed in 0.43 s"
    assert "✗" in text and "✓" in text
    doc = report.as_dict()
    assert set(doc) == {"ok", "checks"} and doc["ok"] is False
    assert set(doc["checks"][0]) == {"name", "host", "ok", "detail"}


def inv_verify(*args):
    return subprocess.run([sys.executable, "-m", "invoke", "verify", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_lab_not_up_is_exit_2_with_nothing_sent(tmp_path, extra):
    (tmp_path / "hosts.yaml").write_text(HOSTS)
    result = inv_verify("--inventory", str(tmp_path / "hosts.yaml"), *extra)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "the lab is not up" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / ".secrets").exists()   # verify creates no secret


@pytest.mark.parametrize("flags, words", [(["--requests", "1"], "--requests"), (["--requests", "abc"], "--requests"),
                                           (["--ssh-config", "/nonexistent/cfg"], "--ssh-config")])
def test_bad_flags_are_exit_2(tmp_path, flags, words):
    (tmp_path / "hosts.yaml").write_text(HOSTS)
    result = inv_verify("--inventory", str(tmp_path / "hosts.yaml"), *flags)
    assert result.returncode == 2 and words in result.stderr and result.stdout == ""


def test_bad_inventory_is_exit_2(tmp_path):
    (tmp_path / "hosts.yaml").write_text(HOSTS.replace("virtual_router_id: 7", "virtual_router_id: 700"))
    result = inv_verify("--inventory", str(tmp_path / "hosts.yaml"))
    assert result.returncode == 2 and "virtual_router_id" in result.stderr


def test_verify_help_describes_every_flag():
    result = subprocess.run([sys.executable, "-m", "invoke", "--help", "verify"], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    for flag in ("--json", "--requests", "--ssh-config", "--inventory"):
        line = next(x for x in result.stdout.splitlines() if x.strip().startswith(flag))
        assert len(line.split(None, 1)) == 2, line


class DeadVip:
    """A prober whose every request gets no answer."""

    def __init__(self):
        self.calls = 0

    def get(self, address, path="/", **kwargs):
        self.calls += 1
        return Response(address, path, error="timeout after 1 s")


def test_a_dead_vip_is_given_up_after_a_few_requests(inv, gathered):
    prober = DeadVip()
    vip = verify._probe_vip(prober, inv, 20, MARK, "s3cret")
    assert prober.calls == verify.DEAD_AFTER == len(vip.rounds)
    assert vip.stats_html.error.startswith("not sent") and vip.marker.status is None
    gathered["vip"] = vip
    bad = {name for name, _ in failing(run(inv, gathered))}
    assert {"round-robin", "stats-auth", "stats-backends", "stats-holder", "access-log"} <= bad
