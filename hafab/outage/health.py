"""Is the cluster healthy? One script per host gathers its facts over SSH; they are judged together.

Healthy: every host answers with its role units active; exactly one LB holds the VIP, as MASTER, the
others BACKUP; with preempt the holder is the LB of highest priority; the holder's haproxy sees every web
server UP. `wait_healthy` polls until then (before an outage, and after the restore).
"""

import time

from hafab.engine.errors import HostError
from hafab.outage.fleet import in_parallel

POLL = 0.3              # seconds between health polls


def health_script(inventory, host):
    lines = []
    if "lb" in host.roles:
        vip, interface = inventory.cluster["vip"], inventory.cluster["interface"]
        lines += [
            f'if ip -4 -o addr show dev {interface} | grep -q " {vip}/"; then echo "vip 1"; else echo "vip 0"; fi',
            'echo "unit haproxy $(systemctl is-active haproxy)"',
            'echo "unit keepalived $(systemctl is-active keepalived)"',
            'echo "vrrp $(cut -d" " -f1 /run/keepalived/state 2>/dev/null)"',
            "echo 'show stat' | timeout 2 socat stdio UNIX-CONNECT:/run/haproxy/admin.sock 2>/dev/null"
            " | awk -F, '!/^#/ && $2 != \"FRONTEND\" && $2 != \"BACKEND\" && NF > 17 {print \"server \" $2 \" \" $18}'",
        ]
    if "web" in host.roles:
        lines.append('echo "unit apache2 $(systemctl is-active apache2)"')
    return "\n".join(lines) + "\n"


def parse_health(output):
    """{"vip": bool, "units": {unit: state}, "vrrp": STATE, "servers": {name: status}} of health_script."""
    facts = {"vip": False, "units": {}, "vrrp": "", "servers": {}}
    for line in output.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "vip":
            facts["vip"] = words[1:] == ["1"]
        elif words[0] == "unit" and len(words) >= 2:
            facts["units"][words[1]] = words[2] if len(words) > 2 else ""
        elif words[0] == "vrrp":
            facts["vrrp"] = words[1] if len(words) > 1 else ""
        elif words[0] == "server" and len(words) >= 3:
            facts["servers"][words[1]] = " ".join(words[2:])
    return facts


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
