"""`inv verify`: prove from outside that the cluster does what the seed promises (issue 5).

Order of work (CONTRACT.md): load hosts.yaml; choose the target (the lab's ssh_config and routes through
its bridge, or --ssh-config); then, at the same time, open one SSH connection per host and send the HTTP
probes from this machine (through the VIP one after another, so round-robin can be judged; direct ones
to the web servers in parallel). When the probes are done, ONE script per host, in parallel, gathers
every fact the checks need (services, VIP, keepalived's state, sysctl, `haproxy -c`, the marked request
in the logs, the web pages as an LB sees them). The judging is pure (hafab.judge).
"""

import os
import secrets as _random
import shlex
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from hafab.cluster import inventory as inventorylib
from hafab import lab
from hafab.verify import judge
from hafab.lab import netguard
from hafab.cluster import probe
from hafab.cluster import secrets
from hafab.cluster import reach
from hafab.engine.errors import HafabError, InputError
from hafab.verify.judge import Check
from hafab.engine.transport import connect

MAX_REQUESTS = 1000
DIRECT_TIMEOUT = 0.5      # a blocked web server must refuse (or drop) within this
VIP_TIMEOUT = 1.0
DEAD_AFTER = 3            # requests through the VIP without any answer: stop probing it
SCRIPT_TIMEOUT = 15
LOG_WAIT_STEPS = 30       # x 0.05 s: how long the holder/serving web wait for the marked line
COOKIE_STICKY = 6
STATS_USER = "admin"


@dataclass
class HostFacts:
    name: str
    sections: dict = field(default_factory=dict)
    error: str = ""           # SSH or script failure; the host's checks then fail with it
    connect_s: float = 0.0

    @property
    def ok(self):
        return not self.error


@dataclass
class VipProbes:
    rounds: list = field(default_factory=list)       # the N round-robin requests
    marker: object = None                            # the marked request (probe.Response)
    stats_anon: object = None
    stats_html: object = None
    stats_csv: object = None
    cookie_first: object = None
    cookie_sticky: list = field(default_factory=list)
    cookie_fresh: list = field(default_factory=list)


@dataclass
class Report:
    checks: list
    duration: float

    @property
    def ok(self):
        return all(c.ok for c in self.checks)

    def as_dict(self):
        return {"ok": self.ok, "checks": [c.as_dict() for c in self.checks]}


def verify(inventory_path="hosts.yaml", requests=20, ssh_config=None, settle=0.0):
    """Run every check; Report. InputError (exit 2) before anything is sent when input or target is bad."""
    started = time.monotonic()
    inventory = inventorylib.load(inventory_path)
    if isinstance(requests, bool) or not isinstance(requests, int) or not 2 <= requests <= MAX_REQUESTS:
        raise InputError("--requests", f"{requests!r} must be a whole number from 2 to {MAX_REQUESTS}")
    if not inventory.lbs() or not inventory.webs():
        raise InputError(inventory.where, "hosts: verify needs at least one lb and one web host")
    hosts = list(inventory.hosts.values())
    config = reach.ssh_config_for(inventory, hosts, ssh_config)
    lab_mode = not ssh_config
    prober = probe.Prober(inventory, lab=lab_mode)   # lab: every address's route checked here
    password = _stats_password(inventory)
    marker = "hafab-verify-" + uuid.uuid4().hex[:16]
    if settle:
        _settle(prober, inventory, settle)

    with ThreadPoolExecutor(max_workers=3 * len(hosts) + 2) as pool:
        remotes = {h.name: pool.submit(_connect, h.name, config) for h in hosts}
        direct = {w.name: pool.submit(prober.get, w.address, "/", timeout=DIRECT_TIMEOUT)
                  for w in inventory.webs() if _direct_probe(inventory)}
        vip = _probe_vip(prober, inventory, requests, marker, password)
        mac = _vip_mac(inventory, lab_mode)
        client = vip.marker.local
        served = vip.marker.server if vip.marker.status == 200 else None
        gathered = {h.name: pool.submit(_gather, inventory, h, remotes[h.name], marker, client, served)
                    for h in hosts}
        facts = {name: future.result() for name, future in gathered.items()}
        direct = {name: future.result() for name, future in direct.items()}
        for future in remotes.values():
            remote = future.result()[0]
            if remote is not None:
                remote.close()

    checks = assemble(inventory, facts, vip, direct, mac, marker, client, password)
    for check in checks:
        check.detail = secrets.redact(check.detail)
    return Report(checks, time.monotonic() - started)


def _settle(prober, inventory, seconds):
    """Wait, at most `seconds`, until the VIP serves every web server (or, with persistence, answers
    200 three times running): right after a provision, HAProxy's health checks need a moment (rise 2)
    to see a web server that just came up."""
    vip, webs = inventory.cluster["vip"], {w.name for w in inventory.webs()}
    deadline = time.monotonic() + seconds
    seen, good = set(), 0
    while time.monotonic() < deadline:
        response = prober.get(vip, "/", timeout=1.0)
        if response.status == 200:
            good += 1
            seen.add(response.server)
        else:
            good, seen = 0, set()
        if (webs <= seen) if inventory.cluster["persistence"] == "none" else good >= 3:
            return
        time.sleep(0.1)


# --- gathering ------------------------------------------------------------------------------------

def _stats_password(inventory):
    """The stats password, or None when its file does not exist (verify never creates secrets)."""
    path = os.path.join(inventory.root, inventory.cluster["stats_password_file"])
    return secrets.stats_password(inventory) if os.path.exists(path) else None


def _direct_probe(inventory):
    """Requests straight to the web servers: to see the block, or (open, mode http) to fetch the pages."""
    return inventory.cluster["block_direct"] or inventory.cluster["mode"] == "http"


def _connect(name, config):
    started = time.monotonic()
    try:
        return connect(name, config), time.monotonic() - started, ""
    except HafabError as exc:
        return None, time.monotonic() - started, str(exc)


def _stats_port(inventory):
    if inventory.cluster["mode"] == "http":
        return 80
    lb = inventory.lbs()[0]
    return int(lb.vars.get("haproxy_stats_port", 8404))


def _probe_vip(prober, inventory, requests, marker, password):
    """Every request through the VIP, one after another (parallel ones would blur round-robin)."""
    vip = inventory.cluster["vip"]
    found = VipProbes()
    for _ in range(requests):
        found.rounds.append(prober.get(vip, "/", timeout=VIP_TIMEOUT))
        if len(found.rounds) >= DEAD_AFTER and not any(r.answered for r in found.rounds[-DEAD_AFTER:]):
            # the VIP does not answer at all: say so in seconds rather than wait for every timeout
            dead = probe.Response(vip, "/", error=f"not sent: the VIP did not answer {DEAD_AFTER} requests in a row")
            found.marker = found.stats_anon = found.stats_html = found.stats_csv = found.cookie_first = dead
            return found
    found.marker = prober.get(vip, f"/?hafab-verify={marker}", headers={"User-Agent": f"hafab-verify/{marker}"},
                              timeout=VIP_TIMEOUT)
    if inventory.cluster["persistence"] == "cookie":
        found.cookie_first = prober.get(vip, "/", timeout=VIP_TIMEOUT)
        value = judge.cookie_value(found.cookie_first.set_cookies)
        jar = {"Cookie": f"SERVERID={value}"} if value else {}
        found.cookie_sticky = prober.many(vip, COOKIE_STICKY, headers=jar, timeout=VIP_TIMEOUT)
        found.cookie_fresh = prober.many(vip, 2, timeout=VIP_TIMEOUT)
    port = _stats_port(inventory)
    found.stats_anon = prober.get(vip, "/haproxy?stats", port=port, timeout=VIP_TIMEOUT)
    if password:
        auth = probe.basic_auth(STATS_USER, password)
        found.stats_html = prober.get(vip, "/haproxy?stats", port=port, headers=auth, timeout=VIP_TIMEOUT)
        found.stats_csv = prober.get(vip, "/haproxy?stats;csv", port=port, headers=auth, timeout=VIP_TIMEOUT)
    return found


def _vip_mac(inventory, lab_mode):
    """The VIP's MAC in this machine's ARP table (None when not on-link from here: see judge)."""
    vip = inventory.cluster["vip"]
    if lab_mode:
        return probe.neighbour_mac(vip, lab.bridge_name(inventory))
    dev, gateway = netguard.route_dev(vip)
    if gateway:
        return "via-gateway"
    return probe.neighbour_mac(vip, dev)


def _gather(inventory, host, remote_future, marker, client, served):
    remote, connect_s, error = remote_future.result()
    facts = HostFacts(host.name, connect_s=connect_s, error=error)
    if remote is None:
        return facts
    script, token = host_script(inventory, host, marker, client, served)
    try:
        result = remote.run(script, timeout=SCRIPT_TIMEOUT)
    except HafabError as exc:
        facts.error = str(exc)
        return facts
    facts.sections = judge.sections(result.stdout, token)
    if "end" not in facts.sections:
        facts.error = f"{host.name}: fact script stopped early (exit {result.exit_status})"
    return facts


def host_script(inventory, host, marker, client, served):
    """The one sh script that gathers every fact the checks need from `host`; (script, token)."""
    token = "@@hafab-verify-" + _random.token_hex(6)
    q = shlex.quote
    cluster = inventory.cluster
    client_pat = f"{client[0]}:{client[1]} " if client and client[0] else marker
    lines = ["exec 2>/dev/null", f"T={q(token)}", f"MARK={q(marker)}", f"CLIENT={q(client_pat)}",
             'sec() { printf \'\\n%s %s\\n\' "$T" "$1"; }',
             # wait: grep FILE for the marker up to N times, 50 ms apart (bounded)
             'wait_for() { n=$1; f=$2; i=0; while :; do found=$(tail -n 5000 "$f" | grep -F -e "$MARK" -e "$CLIENT" '
             '| tail -n 3); [ -n "$found" ] && break; i=$((i+1)); [ $i -ge $n ] && break; sleep 0.05; done; '
             'printf \'%s\\n\' "$found"; }',
             "unit() { printf '%s %s %s\\n' \"$1\" \"$(systemctl is-active \"$1\")\" \"$(systemctl is-enabled \"$1\")\"; }"]
    roles = set(host.roles)
    if "lb" in roles:
        iface, vip = cluster["interface"], cluster["vip"]
        lines += [f"IFACE={q(iface)}", f"VIP={q(vip)}",
                  "sec units", "unit haproxy", "unit keepalived",
                  "sec addr", 'ip -4 -o addr show dev "$IFACE"',
                  "sec mac", 'cat /sys/class/net/"$IFACE"/address',
                  "sec keepalived",
                  "if [ -s /run/keepalived/state ]; then echo \"file $(cat /run/keepalived/state)\"; "
                  "else echo \"journal $(journalctl -u keepalived -o cat --no-pager -n 300 | "
                  "grep -Eo 'Entering [A-Z]+ STATE' | tail -n 1)\"; fi",
                  "sec sysctl", "sysctl -n net.ipv4.ip_nonlocal_bind",
                  "sec sysctl_files",
                  "grep -Hs ip_nonlocal_bind /etc/sysctl.conf /etc/sysctl.d/*.conf /run/sysctl.d/*.conf "
                  "/usr/local/lib/sysctl.d/*.conf /usr/lib/sysctl.d/*.conf",
                  "sec haproxy_check",
                  'out=$(haproxy -c -f /etc/haproxy/haproxy.cfg 2>&1); rc=$?; printf \'%s\\n\' "$out" | grep -v NOTICE | head -n 6; '
                  'echo "rc=$rc"',
                  "sec pids", "pidof haproxy",
                  "sec frontends", "echo 'show stat -1 1 -1' | timeout 2 socat stdio UNIX-CONNECT:/run/haproxy/admin.sock"]
        proxy = " --haproxy-protocol" if cluster["mode"] == "tcp" else ""
        for web in inventory.webs():
            lines += [f"sec {q('page ' + web.name)}",
                      f"curl -s --noproxy '*' -m 2{proxy} -w '\\n@@status %{{http_code}}' http://{web.address}/"]
        lines += ["sec haproxy_log",
                  f'if ip -4 -o addr show dev "$IFACE" | grep -qF " $VIP/"; then n={LOG_WAIT_STEPS}; else n=1; fi',
                  "wait_for $n /var/log/haproxy.log"]
    if "web" in roles:
        steps = LOG_WAIT_STEPS if served in (None, host.name) else 1
        lines += ["sec web_units", "unit apache2",
                  "sec access_log", f"wait_for {steps} /var/log/apache2/access.log",
                  "sec options", "tail -n 2000 /var/log/apache2/access.log | grep -F '\"OPTIONS ' | tail -n 50",
                  "sec apache_loaded", "grep -h 'resuming normal operations' /var/log/apache2/error.log | tail -n 1",
                  "sec utc_offset", "date +%z"]
    lines.append("sec end")
    return "\n".join(lines) + "\n", token


# --- judging ----------------------------------------------------------------------------------------

def assemble(inventory, facts, vip, direct, mac, marker, client, password):
    """Every check, in the issue's order, from what was gathered."""
    cluster = inventory.cluster
    lbs, webs = inventory.lbs(), inventory.webs()
    checks = []

    def add(name, host, ok, detail):
        checks.append(Check(name, host, bool(ok), detail))

    def unreachable(host):
        return f"not checked: {facts[host].error}"

    # 1. SSH and services
    for host in inventory.hosts.values():
        f = facts[host.name]
        add("ssh", host.name, f.ok, f"connected and ran the fact script ({f.connect_s:.2f} s to connect)"
            if f.ok else f.error)
    for host in inventory.hosts.values():
        f = facts[host.name]
        if not f.ok:
            add("services", host.name, False, unreachable(host.name))
            continue
        found = judge.units(f.sections.get("units", "") + "\n" + f.sections.get("web_units", ""))
        wanted = (["haproxy", "keepalived"] if "lb" in host.roles else []) + \
                 (["apache2"] if "web" in host.roles else [])
        add("services", host.name, *judge.judge_units(found, wanted))

    # 2. each web's own page (from the LBs when direct access is blocked), and the block itself
    from_lbs = cluster["block_direct"] or cluster["mode"] == "tcp"
    for web in webs:
        if from_lbs:
            seen = []
            for lb in lbs:
                f = facts[lb.name]
                if not f.ok:
                    continue
                raw = f.sections.get(f"page {web.name}", "")
                body, _, status = raw.rpartition("\n@@status ")
                status = int(status) if status.strip().isdigit() and status.strip() != "000" else None
                seen.append((lb.name,) + judge.judge_page(web.name, status, probe.served_by(body, {})))
            if not seen:
                add("web-page", web.name, False, "no LB reachable over SSH to fetch it from")
            else:
                add("web-page", web.name, all(ok for _, ok, _ in seen),
                    "; ".join(f"from {lb}: {d}" for lb, _, d in seen))
        else:
            r = direct[web.name]
            ok, detail = judge.judge_page(web.name, r.status, r.server)
            add("web-page", web.name, ok, f"direct from this machine: {detail}" if r.answered else r.error)
        if cluster["block_direct"]:
            add("direct-blocked", web.name, *judge.judge_blocked(direct[web.name]))

    # 3. round-robin (balance source sends one client to one server: judged in `persistence`)
    if cluster["persistence"] != "source":
        add("round-robin", "vip", *judge.judge_round_robin(vip.rounds, [w.name for w in webs]))

    # 4. VIP ownership, keepalived's view, ARP
    holding = [lb.name for lb in lbs if facts[lb.name].ok
               and cluster["vip"] in judge.addresses(facts[lb.name].sections.get("addr", ""))]
    states = {lb.name: judge.keepalived_state(facts[lb.name].sections.get("keepalived", "")) for lb in lbs}
    healthy = {}
    for lb in lbs:
        units = judge.units(facts[lb.name].sections.get("units", ""))
        healthy[lb.name] = facts[lb.name].ok and all(units.get(u, ("",))[0] == "active"
                                                     for u in ("haproxy", "keepalived"))
        if facts[lb.name].ok and units.get("keepalived", ("",))[0] != "active":
            states[lb.name] = "STOPPED"  # the notify state file is stale when keepalived is not running
    macs = {lb.name: facts[lb.name].sections.get("mac", "").strip().lower() for lb in lbs}
    # The LB this machine's traffic reaches; with two holders (split brain, failed by vip-holder) the
    # one whose MAC this machine's ARP table has, so the checks that follow judge the LB that served.
    holder = holding[0] if len(holding) == 1 else next((n for n in holding if mac and macs[n] == mac), None)
    ok, detail = judge.judge_vip_holder(holding, {lb.name: (lb.priority, healthy[lb.name]) for lb in lbs},
                                        cluster["preempt"])
    add("vip-holder", holding[0] if len(holding) == 1 else "vip", ok, detail)
    for lb in lbs:
        if not facts[lb.name].ok:
            add("keepalived-state", lb.name, False, unreachable(lb.name))
            continue
        add("keepalived-state", lb.name, *judge.judge_keepalived(lb.name, states[lb.name], holder, healthy[lb.name]))
    if mac == "via-gateway":
        add("vip-arp", holder or "vip", True, "not checked: the VIP is behind a router from this machine")
    else:
        add("vip-arp", holder or "vip", *judge.judge_arp(mac, holder, macs))

    # 5. stats page through the VIP
    if password is None:
        for name in ("stats-auth", "stats-backends", "stats-holder"):
            add(name, "vip", False, f"no stats password file {cluster['stats_password_file']}: run `inv provision`")
    else:
        anon, html, csv = vip.stats_anon, vip.stats_html, vip.stats_csv
        auth_ok = anon.status == 401 and html.status == 200
        add("stats-auth", "vip", auth_ok, f"{anon.summary() if anon.status is None else anon.status} without "
            f"credentials, {html.summary() if html.status is None else html.status} with the cluster's")
        if csv.status == 200:
            add("stats-backends", "vip", *judge.judge_backends(judge.parse_stats_csv(csv.body), [w.name for w in webs]))
        else:
            add("stats-backends", "vip", False, f"CSV stats: {csv.summary()}")
        lb_ids = {}
        for lb in lbs:
            sections = facts[lb.name].sections
            lb_ids[lb.name] = {"pids": [int(p) for p in sections.get("pids", "").split() if p.isdigit()],
                               "sessions": judge.frontend_sessions(judge.parse_stats_csv(sections.get("frontends", "")))}
        if html.status == 200:
            rows = judge.parse_stats_csv(csv.body) if csv.status == 200 else []
            add("stats-holder", holder or "vip", *judge.judge_stats_holder(html.body, rows, holder, lb_ids))
        else:
            add("stats-holder", holder or "vip", False, f"stats page: {html.summary()}")

    # 6. logs
    lb_addresses = {lb.address for lb in lbs}
    served = vip.marker.server if vip.marker.status == 200 else None
    found = {w.name: [line for line in facts[w.name].sections.get("access_log", "").splitlines() if marker in line]
             for w in webs}
    if vip.marker.status != 200:
        add("access-log", "vip", False, f"marked request through the VIP: {vip.marker.summary()}")
    else:
        web, ok, detail = judge.judge_access_log(found, marker, client[0], lb_addresses, served)
        unreached = [w.name for w in webs if not facts[w.name].ok]
        if not ok and unreached:
            detail += f" (no SSH to {', '.join(unreached)})"
        add("access-log", web or served or "vip", ok, detail)
    for web in webs:
        f = facts[web.name]
        if not f.ok:
            add("no-health-check-logs", web.name, False, unreachable(web.name))
            continue
        since = judge.apache_loaded(f.sections.get("apache_loaded"), f.sections.get("utc_offset"))
        bad = judge.health_check_lines(f.sections.get("options", "").splitlines(), lb_addresses, since)
        when = f"since Apache loaded its configuration ({since:%H:%M:%S})" if since else "in the last 2000 lines"
        add("no-health-check-logs", web.name, not bad,
            f"{len(bad)} health-check lines in access.log {when}, last: {bad[-1][:100]}" if bad
            else f"no OPTIONS from the LBs in access.log {when}")
    log_host = holder or next((lb.name for lb in lbs if facts[lb.name].sections.get("haproxy_log", "").strip()), None)
    lines = [x for x in facts[log_host].sections.get("haproxy_log", "").splitlines() if x.strip()] if log_host else []
    add("haproxy-log", log_host or "vip", *judge.judge_haproxy_log(lines, holder))

    # 7. sysctl and the live haproxy.cfg
    for lb in lbs:
        f = facts[lb.name]
        if not f.ok:
            add("nonlocal-bind", lb.name, False, unreachable(lb.name))
            add("haproxy-config", lb.name, False, unreachable(lb.name))
            continue
        add("nonlocal-bind", lb.name, *judge.judge_nonlocal_bind(f.sections.get("sysctl"),
                                                                  f.sections.get("sysctl_files", "")))
        add("haproxy-config", lb.name, *judge.judge_haproxy_config(f.sections.get("haproxy_check", "")))

    # 8. persistence
    if cluster["persistence"] == "cookie":
        add("persistence", "vip", *judge.judge_cookie(vip.cookie_first, vip.cookie_sticky, vip.cookie_fresh))
    elif cluster["persistence"] == "source":
        add("persistence", "vip", *judge.judge_source(vip.rounds))
    return checks


# --- output -----------------------------------------------------------------------------------------

def table(report, colour=False):
    """The report as a text table and a summary line."""
    rows = [(c.name, c.host, "✓" if c.ok else "✗", c.detail) for c in report.checks]
    w_name = max([len("check")] + [len(r[0]) for r in rows])
    w_host = max([len("host")] + [len(r[1]) for r in rows])
    lines = [f"{'check':<{w_name}}  {'host':<{w_host}}  ok  detail"]
    for name, host, mark, detail in rows:
        if colour:
            mark = ("\033[0;32m" if mark == "✓" else "\033[0;31m") + mark + "\033[0m"
        lines.append(f"{name:<{w_name}}  {host:<{w_host}}  {mark}   {detail}")
    passed = sum(1 for c in report.checks if c.ok)
    failed = len(report.checks) - passed
    lines.append("")
    lines.append(f"{len(report.checks)} checks, {passed} passed, {failed} failed in {report.duration:.2f} s")
    return "\n".join(lines) + "\n"
