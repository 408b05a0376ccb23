"""Is the cluster healthy? One script per host gathers its facts over SSH; they are judged together.

Healthy: every host answers with its role units active; exactly one LB holds the VIP, as MASTER, the
others BACKUP; with preempt the holder is the LB of highest priority; the holder's haproxy sees every web
server UP. `wait_healthy` polls until then (before an outage, and after the restore).
"""

import time

from hafab.cluster import haproxy, keepalived, roles
from hafab.engine.errors import HostError
from hafab.outage.fleet import in_parallel

POLL = 0.3              # seconds between health polls
STATS_MARKER = "stats"  # the health script's line after which HAProxy's stats CSV follows


def health_script(inventory, host):
    """Shell script printing the host's facts: "vip 0|1", "unit NAME STATE", "vrrp STATE" and, on LBs,
    a "stats" line followed by HAProxy's `show stat` CSV (parsed here, by parse_health)."""
    lines = []
    is_lb = roles.LB in host.roles
    if is_lb:
        holds = keepalived.holds_vip_command(inventory.cluster["vip"], inventory.cluster["interface"])
        lines.append(f'if {holds}; then echo "vip 1"; else echo "vip 0"; fi')
    lines += [f'echo "unit {unit} $(systemctl is-active {unit})"' for unit in roles.units(host)]
    if is_lb:
        lines += [f'echo "vrrp $({keepalived.state_command()})"', f"echo {STATS_MARKER}",
                  f"{haproxy.runtime_command('show stat')} 2>/dev/null"]
    return "\n".join(lines) + "\n"


def parse_health(output):
    """{"vip": bool, "units": {unit: state}, "vrrp": STATE, "servers": {name: status}} of health_script."""
    facts = {"vip": False, "units": {}, "vrrp": "", "servers": {}}
    lines = output.splitlines()
    if STATS_MARKER in lines:
        at = lines.index(STATS_MARKER)
        lines, facts["servers"] = lines[:at], server_states("\n".join(lines[at + 1:]))
    for line in lines:
        words = line.split()
        if not words:
            continue
        if words[0] == "vip":
            facts["vip"] = words[1:] == ["1"]
        elif words[0] == "unit" and len(words) >= 2:
            facts["units"][words[1]] = words[2] if len(words) > 2 else ""
        elif words[0] == "vrrp":
            facts["vrrp"] = words[1] if len(words) > 1 else ""
    return facts


def server_states(stats_csv):
    """{server: status} ("UP", "DOWN", "MAINT"...) of every server row of HAProxy's `show stat` CSV."""
    rows = haproxy.server_rows(haproxy.parse_stats_csv(stats_csv))
    return {name: " ".join(row["status"].split()) for name, row in rows.items()
            if (row.get("status") or "").strip()}


def evaluate_health(inventory, facts):
    """(healthy, problems, holder) from {host: parse_health dict or an error string}.

    Healthy: every host answers with its role services active; exactly one LB holds the VIP, as MASTER,
    the others BACKUP; with preempt the holder is the LB of highest priority; the holder's haproxy sees
    every web server UP.
    """
    problems = []
    for name, fact in facts.items():
        if isinstance(fact, str):
            problems.append(f"{name}: {fact}")
            continue
        for unit, state in sorted(fact["units"].items()):
            if state != "active":
                problems.append(f"{name}: {unit} is {state or 'unknown'}")
    lbs = inventory.lbs()
    holders = [lb.name for lb in lbs if isinstance(facts.get(lb.name), dict) and facts[lb.name]["vip"]]
    holder = holders[0] if len(holders) == 1 else None
    if not holders:
        problems.append("no LB holds the VIP")
    elif len(holders) > 1:
        problems.append(f"several LBs hold the VIP: {', '.join(holders)}")
    for lb in lbs:
        fact = facts.get(lb.name)
        if not isinstance(fact, dict):
            continue
        want = "MASTER" if lb.name == holder else "BACKUP"
        if holder and fact["vrrp"] != want:
            problems.append(f"{lb.name}: keepalived is {fact['vrrp'] or 'in no known state'}, not {want}")
    if holder and inventory.cluster["preempt"]:
        top = max(lbs, key=lambda lb: lb.priority)
        if holder != top.name:
            problems.append(f"preempt: {top.name} (priority {top.priority}) should hold the VIP, not {holder}")
    if holder:
        servers = facts[holder]["servers"]
        for web in inventory.webs():
            status = servers.get(web.name)
            if status != "UP":
                problems.append(f"{holder}: haproxy sees {web.name} {status or 'nowhere'}, not UP")
    return not problems, problems, holder


def gather_health(inventory, fleet):
    """{host: parse_health facts, or the error string of a host that did not answer}."""
    facts = {}

    def one(name):
        try:
            result = fleet.run(name, health_script(inventory, inventory.hosts[name]), timeout=6)
            facts[name] = parse_health(result.stdout)
        except HostError as exc:
            facts[name] = str(exc).split(": ", 1)[-1]
    in_parallel(inventory.hosts, one)
    return {n: facts[n] for n in inventory.hosts}


def wait_healthy(inventory, fleet, bound, traffic=None):
    """Poll until healthy (and the traffic's last requests all succeeded): (healthy, problems, seconds)."""
    started = time.monotonic()
    problems = ["not checked"]
    while True:
        healthy, problems, _ = evaluate_health(inventory, gather_health(inventory, fleet))
        if healthy and traffic is not None:
            recent = traffic.recent(0.5)
            bad = [s for s in recent if s.failed]
            if not recent or bad:
                healthy = False
                problems = [f"{len(bad)} of the last {len(recent)} requests to the VIP failed"]
        if healthy:
            return True, [], time.monotonic() - started
        if time.monotonic() - started > bound:
            return False, problems, time.monotonic() - started
        time.sleep(POLL)
