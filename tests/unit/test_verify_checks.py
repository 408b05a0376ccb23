"""verify's checks from gathered facts (no network): a healthy cluster passes all, each broken fact fails
exactly its check, an unreachable host or a dead VIP fails what depends on it."""

import copy

import pytest

from hafab.cluster import inventory
from hafab.cluster.probe import Response, served_by
from hafab.verify import checks, probes
from hafab.verify.gather import HostFacts
from hafab.verify.probes import VipProbes

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
    return HostFacts(name, sections={
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
    return HostFacts(name, sections={
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
    vip = VipProbes(
        rounds=[page(n) for n in ["web1", "web2"] * 10], marker=page("web1", local=CLIENT),
        stats_anon=Response("10.123.0.10", "/haproxy?stats", status=401),
        stats_html=Response("10.123.0.10", "/haproxy?stats", status=200, body="Statistics Report for pid 636"),
        stats_csv=Response("10.123.0.10", "/haproxy?stats;csv", status=200, body=stats_csv))
    direct = {w: Response(a, "/", error="refused", latency=0.001) for w, a in
              (("web1", "10.123.0.21"), ("web2", "10.123.0.22"))}
    return {"facts": facts, "vip": vip, "direct": direct, "mac": "02:00:00:00:00:01"}


def run(inv, g, password="s3cret"):
    return checks.assemble(inv, g["facts"], g["vip"], g["direct"], g["mac"], MARK, CLIENT, password)


def failing(found):
    return sorted((c.name, c.host) for c in found if not c.ok)


def test_a_healthy_cluster_passes_every_check(inv, gathered):
    found = run(inv, gathered)
    assert failing(found) == [], [c for c in found if not c.ok]
    names = [c.name for c in found]
    for name in ("ssh", "services", "web-page", "direct-blocked", "round-robin", "vip-holder", "keepalived-state",
                 "vip-arp", "stats-auth", "stats-backends", "stats-holder", "access-log", "no-health-check-logs",
                 "haproxy-log", "nonlocal-bind", "haproxy-config"):
        assert name in names
    assert "persistence" not in names
    assert len(found) == 28


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
    gathered["facts"]["web2"] = HostFacts("web2", error="web2: unreachable: no answer on SSH within 5 s")
    bad = failing(run(inv, gathered))
    assert bad == [("no-health-check-logs", "web2"), ("services", "web2"), ("ssh", "web2")]


def test_no_stats_password_fails_the_stats_checks_only(inv, gathered):
    found = run(inv, gathered, password=None)
    assert failing(found) == [("stats-auth", "vip"), ("stats-backends", "vip"), ("stats-holder", "vip")]
    assert all("run `inv provision`" in c.detail for c in found if not c.ok)


def test_the_vip_holder_is_read_from_ip_addr(inv, gathered):
    view = checks.vip_view(inv, gathered["facts"], gathered["mac"])
    assert (view.holding, view.holder) == (["hap1"], "hap1")
    assert view.healthy == {"hap1": True, "hap2": True} and view.states == {"hap1": "MASTER", "hap2": "BACKUP"}
    gathered["facts"]["hap1"].sections["addr"] = ("3: eth1    inet 10.123.0.11/24 brd 10.123.0.255 scope global eth1\n"
                                                  "3: eth1    inet 10.123.0.100/32 scope global eth1\n")
    assert checks.vip_view(inv, gathered["facts"], gathered["mac"]).holding == []   # 10.123.0.100 is not the VIP


def test_a_stopped_keepalived_is_not_trusted_for_its_state(inv, gathered):
    gathered["facts"]["hap2"].sections["units"] = "haproxy active enabled\nkeepalived failed enabled"
    view = checks.vip_view(inv, gathered["facts"], gathered["mac"])
    assert view.states["hap2"] == "STOPPED" and view.healthy["hap2"] is False


class Unanswered:
    def get(self, address, path="/", **kwargs):
        return Response(address, path, error="timeout after 1 s")


def test_a_dead_vip_fails_every_check_through_it(inv, gathered):
    gathered["vip"] = probes.probe_vip(Unanswered(), inv, 20, MARK, "s3cret")
    bad = {name for name, _ in failing(run(inv, gathered))}
    assert {"round-robin", "stats-auth", "stats-backends", "stats-holder", "access-log"} <= bad
