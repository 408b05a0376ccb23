"""Every Check of `inv verify`, in the issue's order, from what was gathered (HostFacts per host) and
probed (VipProbes, the direct requests, the VIP's MAC): one function per family of checks.
"""

from dataclasses import dataclass

from hafab.cluster import haproxy, keepalived, probe, roles, tls
from hafab.verify import judge_hosts, judge_logs, judge_metrics, judge_stats, judge_tls, judge_traffic
from hafab.verify.gather import parse_keepalived_state, parse_units
from hafab.verify.report import Check


@dataclass
class VipView:
    """Who holds the VIP, as the LBs' facts and this machine's ARP table tell it."""
    holding: list     # LBs with the VIP on their interface
    holder: str       # the LB this machine's traffic reaches, or None
    healthy: dict     # {lb: haproxy and keepalived active}
    states: dict      # {lb: keepalived's state word, STOPPED when it does not run, or None}
    macs: dict        # {lb: its interface's MAC}
    held: set = frozenset()   # LBs whose VRRP hold file is in place (hafab.cluster.vrrpturns)


def assemble(inventory, facts, vip, direct, mac, marker, client, password, metrics=None):
    """Every check, in the issue's order, from what was gathered; `metrics`: {lb: probes.MetricsScrape}
    (None: not scraped, no metrics checks)."""
    view = vip_view(inventory, facts, mac)
    return (ssh_checks(inventory, facts) + service_checks(inventory, facts)
            + page_checks(inventory, facts, direct) + round_robin_checks(inventory, vip) + tls_checks(inventory, vip)
            + vip_checks(inventory, facts, view, mac) + stats_checks(inventory, facts, vip, view.holder, password)
            + metrics_checks(inventory, metrics, password)
            + log_checks(inventory, facts, vip, marker, client, view.holder)
            + lb_config_checks(inventory, facts) + persistence_checks(inventory, vip))


def _check(name, host, ok, detail):
    return Check(name, host, bool(ok), detail)


def _not_checked(facts, host):
    return f"not checked: {facts[host].error}"


# 1. SSH and services

def ssh_checks(inventory, facts):
    return [_check("ssh", host.name, f.ok, f"connected and ran the fact script ({f.connect_s:.2f} s to connect)"
                   if f.ok else f.error)
            for host, f in ((host, facts[host.name]) for host in inventory.hosts.values())]


def service_checks(inventory, facts):
    checks = []
    for host in inventory.hosts.values():
        f = facts[host.name]
        if not f.ok:
            checks.append(_check("services", host.name, False, _not_checked(facts, host.name)))
            continue
        found = parse_units(f.sections.get("units", "") + "\n" + f.sections.get("web_units", ""))
        checks.append(_check("services", host.name, *judge_hosts.judge_units(found, roles.units(host))))
    return checks


# 2. each web's own page (from the LBs when direct access is blocked), and the block itself

def page_checks(inventory, facts, direct):
    cluster = inventory.cluster
    from_lbs = cluster["block_direct"] or cluster["mode"] == "tcp"
    checks = []
    for web in inventory.webs():
        if from_lbs:
            checks.append(_page_from_lbs(web, inventory.lbs(), facts))
        else:
            r = direct[web.name]
            ok, detail = judge_traffic.judge_page(web.name, r.status, r.server)
            checks.append(_check("web-page", web.name, ok, f"direct from this machine: {detail}" if r.answered
                                 else r.error))
        if cluster["block_direct"]:
            checks.append(_check("direct-blocked", web.name, *judge_traffic.judge_blocked(direct[web.name])))
    return checks


def _page_from_lbs(web, lbs, facts):
    seen = []
    for lb in lbs:
        f = facts[lb.name]
        if not f.ok:
            continue
        raw = f.sections.get(f"page {web.name}", "")
        body, _, status = raw.rpartition("\n@@status ")
        status = int(status) if status.strip().isdigit() and status.strip() != "000" else None
        seen.append((lb.name,) + judge_traffic.judge_page(web.name, status, probe.served_by(body, {})))
    if not seen:
        return _check("web-page", web.name, False, "no LB reachable over SSH to fetch it from")
    return _check("web-page", web.name, all(ok for _, ok, _ in seen), "; ".join(f"from {lb}: {d}" for lb, _, d in seen))


# 3. round-robin (balance source sends one client to one server: judged in `persistence`)

def round_robin_checks(inventory, vip):
    if inventory.cluster["persistence"] == "source":
        return []
    return [_check("round-robin", "vip", *judge_traffic.judge_round_robin(vip.rounds,
                                                                           [w.name for w in inventory.webs()]))]


# 3b. HTTPS (cluster.tls): chain and names, old protocols refused, new sessions, port 80

def tls_checks(inventory, vip):
    if vip.tls is None:
        return []
    cluster = inventory.cluster
    ca = tls.ca_file(inventory)
    shown = None if ca is None else ca.replace(inventory.root + "/", "")
    first = next((r for r in vip.rounds if r.answered), vip.rounds[0] if vip.rounds else vip.marker)
    https_ok = next((r for r in vip.rounds if r.status == 200), None)
    return [_check("tls-chain", "vip", *judge_tls.judge_chain(first, f"IP {cluster['vip']}", shown)),
            _check("tls-name", "vip", *judge_tls.judge_chain(vip.tls.by_name, f"DNS {cluster['name']}", shown)),
            _check("tls-legacy-refused", "vip", *judge_tls.judge_legacy_refused(vip.tls.legacy)),
            _check("tls-sessions", "vip", *judge_tls.judge_sessions(vip.rounds)),
            _check("port-80", "vip", *judge_tls.judge_port80(cluster["http"], cluster["vip"], vip.tls.port80,
                                                             vip.tls.stats80, https_ok))]


# 4. VIP ownership, keepalived's view, ARP

def vip_view(inventory, facts, mac):
    lbs = inventory.lbs()
    holding = [lb.name for lb in lbs if facts[lb.name].ok
               and keepalived.holds_vip(facts[lb.name].sections.get("addr", ""), inventory.cluster["vip"])]
    states = {lb.name: parse_keepalived_state(facts[lb.name].sections.get("keepalived", "")) for lb in lbs}
    healthy = {}
    for lb in lbs:
        units = parse_units(facts[lb.name].sections.get("units", ""))
        healthy[lb.name] = facts[lb.name].ok and all(units.get(u, ("",))[0] == "active"
                                                     for u in roles.UNITS[roles.LB])
        if facts[lb.name].ok and units.get("keepalived", ("",))[0] != "active":
            states[lb.name] = "STOPPED"  # the notify state file is stale when keepalived is not running
    macs = {lb.name: facts[lb.name].sections.get("mac", "").strip().lower() for lb in lbs}
    held = {lb.name for lb in lbs if facts[lb.name].sections.get("vrrp_hold", "").strip() == "held"}
    # The LB this machine's traffic reaches; with two holders (split brain, failed by vip-holder) the
    # one whose MAC this machine's ARP table has, so the checks that follow judge the LB that served.
    holder = holding[0] if len(holding) == 1 else next((n for n in holding if mac and macs[n] == mac), None)
    return VipView(holding, holder, healthy, states, macs, held)


def vip_checks(inventory, facts, view, mac):
    lbs = inventory.lbs()
    ok, detail = judge_hosts.judge_vip_holder(view.holding, {lb.name: (lb.priority, view.healthy[lb.name])
                                                             for lb in lbs}, inventory.cluster["preempt"],
                                              view.states, inventory.cluster.get("vrrp"))
    checks = [_check("vip-holder", view.holding[0] if len(view.holding) == 1 else "vip", ok, detail)]
    for lb in lbs:
        if not facts[lb.name].ok:
            checks.append(_check("keepalived-state", lb.name, False, _not_checked(facts, lb.name)))
            continue
        checks.append(_check("keepalived-state", lb.name, *judge_hosts.judge_keepalived(
            lb.name, view.states[lb.name], view.holder, view.healthy[lb.name], lb.name in view.held)))
    if mac == "via-gateway":
        checks.append(_check("vip-arp", view.holder or "vip", True,
                             "not checked: the VIP is behind a router from this machine"))
    else:
        checks.append(_check("vip-arp", view.holder or "vip", *judge_hosts.judge_arp(mac, view.holder, view.macs)))
    return checks


# 5. stats page through the VIP

def stats_checks(inventory, facts, vip, holder, password):
    if password is None:
        why = f"no stats password file {inventory.cluster['stats_password_file']}: run `inv provision`"
        return [_check(name, "vip", False, why) for name in ("stats-auth", "stats-backends", "stats-holder")]
    anon, html, csv = vip.stats_anon, vip.stats_html, vip.stats_csv
    auth_ok = anon.status == 401 and html.status == 200
    without = anon.summary() if anon.status is None else anon.status
    with_password = html.summary() if html.status is None else html.status
    checks = [_check("stats-auth", "vip", auth_ok, f"{without} without credentials, {with_password} with the cluster's")]
    if csv.status == 200:
        checks.append(_check("stats-backends", "vip", *judge_stats.judge_backends(
            haproxy.parse_stats_csv(csv.body), [w.name for w in inventory.webs()])))
    else:
        checks.append(_check("stats-backends", "vip", False, f"CSV stats: {csv.summary()}"))
    if html.status == 200:
        rows = haproxy.parse_stats_csv(csv.body) if csv.status == 200 else []
        checks.append(_check("stats-holder", holder or "vip", *judge_stats.judge_stats_holder(
            html.body, rows, holder, _lb_stats_ids(inventory, facts))))
    else:
        checks.append(_check("stats-holder", holder or "vip", False, f"stats page: {html.summary()}"))
    return checks


def _lb_stats_ids(inventory, facts):
    """{lb: {"pids": haproxy's pids, "sessions": {frontend: cumulative sessions}}} from its stats socket."""
    found = {}
    for lb in inventory.lbs():
        sections = facts[lb.name].sections
        rows = haproxy.parse_stats_csv(sections.get("frontends", ""))
        found[lb.name] = {"pids": [int(p) for p in sections.get("pids", "").split() if p.isdigit()],
                          "sessions": judge_stats.frontend_sessions(rows)}
    return found


# 5b. each LB's Prometheus metrics, scraped from this machine

def metrics_checks(inventory, metrics, password):
    if metrics is None:
        return []
    webs = [w.name for w in inventory.webs()]
    if password is None:
        why = f"no stats password file {inventory.cluster['stats_password_file']}: run `inv provision`"
        return [_check("metrics", lb.name, False, why) for lb in inventory.lbs()]
    return [_check("metrics", lb.name, *judge_metrics.judge_metrics(metrics[lb.name].anonymous,
                                                                    metrics[lb.name].scraped, webs, metrics[lb.name].url))
            for lb in inventory.lbs()]


# 6. logs

def log_checks(inventory, facts, vip, marker, client, holder):
    lb_addresses = {lb.address for lb in inventory.lbs()}
    return ([access_log_check(inventory, facts, vip, marker, client, lb_addresses)]
            + health_check_log_checks(inventory, facts, lb_addresses)
            + [haproxy_log_check(inventory, facts, holder)])


def access_log_check(inventory, facts, vip, marker, client, lb_addresses):
    webs = inventory.webs()
    if vip.marker.status != 200:
        return _check("access-log", "vip", False, f"marked request through the VIP: {vip.marker.summary()}")
    served = vip.marker.server
    found = {w.name: [line for line in facts[w.name].sections.get("access_log", "").splitlines() if marker in line]
             for w in webs}
    web, ok, detail = judge_logs.judge_access_log(found, marker, client[0], lb_addresses, served)
    unreached = [w.name for w in webs if not facts[w.name].ok]
    if not ok and unreached:
        detail += f" (no SSH to {', '.join(unreached)})"
    return _check("access-log", web or served or "vip", ok, detail)


def health_check_log_checks(inventory, facts, lb_addresses):
    checks = []
    for web in inventory.webs():
        f = facts[web.name]
        if not f.ok:
            checks.append(_check("no-health-check-logs", web.name, False, _not_checked(facts, web.name)))
            continue
        since = judge_logs.apache_loaded(f.sections.get("apache_loaded"), f.sections.get("utc_offset"))
        bad = judge_logs.health_check_lines(f.sections.get("options", "").splitlines(), lb_addresses, since)
        when = f"since Apache loaded its configuration ({since:%H:%M:%S})" if since else "in the last 2000 lines"
        checks.append(_check("no-health-check-logs", web.name, not bad,
                             f"{len(bad)} health-check lines in access.log {when}, last: {bad[-1][:100]}" if bad
                             else f"no OPTIONS from the LBs in access.log {when}"))
    return checks


def haproxy_log_check(inventory, facts, holder):
    lbs = inventory.lbs()
    log_host = holder or next((lb.name for lb in lbs if facts[lb.name].sections.get("haproxy_log", "").strip()), None)
    lines = [x for x in facts[log_host].sections.get("haproxy_log", "").splitlines() if x.strip()] if log_host else []
    return _check("haproxy-log", log_host or "vip", *judge_logs.judge_haproxy_log(lines, holder))


# 7. sysctl and the live haproxy.cfg

def lb_config_checks(inventory, facts):
    checks = []
    for lb in inventory.lbs():
        f = facts[lb.name]
        if not f.ok:
            checks += [_check("nonlocal-bind", lb.name, False, _not_checked(facts, lb.name)),
                       _check("haproxy-config", lb.name, False, _not_checked(facts, lb.name))]
            continue
        checks += [_check("nonlocal-bind", lb.name, *judge_hosts.judge_nonlocal_bind(
                       f.sections.get("sysctl"), f.sections.get("sysctl_files", ""))),
                   _check("haproxy-config", lb.name, *judge_hosts.judge_haproxy_config(
                       f.sections.get("haproxy_check", "")))]
    return checks


# 8. persistence

def persistence_checks(inventory, vip):
    persistence = inventory.cluster["persistence"]
    if persistence == "cookie":
        return [_check("persistence", "vip", *judge_traffic.judge_cookie(vip.cookie_first, vip.cookie_sticky,
                                                                         vip.cookie_fresh))]
    if persistence == "source":
        return [_check("persistence", "vip", *judge_traffic.judge_source(vip.rounds))]
    return []
