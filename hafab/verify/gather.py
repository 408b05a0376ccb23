"""Gathering, for `inv verify`: one SSH connection per host, and on each ONE sh script (`host_script`)
that prints every fact the checks need in marked sections (services, VIP, keepalived's state, sysctl,
`haproxy -c`, the marked request in the logs, the web pages as an LB sees them); HostFacts holds them.
"""

import re
import secrets as _random
import shlex
import time
from dataclasses import dataclass, field

from hafab.cluster import haproxy, keepalived, roles
from hafab.engine.errors import HafabError
from hafab.engine.facts import sections as marked_sections
from hafab.engine.transport import connect

SCRIPT_TIMEOUT = 15
LOG_WAIT_STEPS = 30       # x 0.05 s: how long the holder/serving web wait for the marked line


@dataclass
class HostFacts:
    name: str
    sections: dict = field(default_factory=dict)
    error: str = ""           # SSH or script failure; the host's checks then fail with it
    connect_s: float = 0.0

    @property
    def ok(self):
        return not self.error


def open_connection(name, config):
    """(remote or None, seconds taken, error): an SSH failure is a fact, not an exception."""
    started = time.monotonic()
    try:
        return connect(name, config), time.monotonic() - started, ""
    except HafabError as exc:
        return None, time.monotonic() - started, str(exc)


def gather_host(inventory, host, connection_future, marker, client, served):
    """Run the host's fact script over its connection (when it opened); HostFacts."""
    remote, connect_s, error = connection_future.result()
    facts = HostFacts(host.name, connect_s=connect_s, error=error)
    if remote is None:
        return facts
    script, token = host_script(inventory, host, marker, client, served)
    try:
        result = remote.run(script, timeout=SCRIPT_TIMEOUT)
    except HafabError as exc:
        facts.error = str(exc)
        return facts
    facts.sections = parse_sections(result.stdout, token)
    if "end" not in facts.sections:
        facts.error = f"{host.name}: fact script stopped early (exit {result.exit_status})"
    return facts


# --- the fact script --------------------------------------------------------------------------------

def host_script(inventory, host, marker, client, served):
    """The one sh script that gathers every fact the checks need from `host`; (script, token)."""
    token = "@@hafab-verify-" + _random.token_hex(6)
    client_pat = f"{client[0]}:{client[1]} " if client and client[0] else marker
    lines = _script_helpers(token, marker, client_pat)
    if roles.LB in host.roles:
        lines += _lb_sections(inventory)
    if roles.WEB in host.roles:
        lines += _web_sections(host, served)
    lines.append("sec end")
    return "\n".join(lines) + "\n", token


def _script_helpers(token, marker, client_pat):
    """The script's variables and functions: `sec NAME` starts a section, `wait_for N FILE` greps FILE
    for the marked request up to N times 50 ms apart (bounded), `unit NAME` prints its two states."""
    q = shlex.quote
    return ["exec 2>/dev/null", f"T={q(token)}", f"MARK={q(marker)}", f"CLIENT={q(client_pat)}",
            'sec() { printf \'\\n%s %s\\n\' "$T" "$1"; }',
            'wait_for() { n=$1; f=$2; i=0; while :; do found=$(tail -n 5000 "$f" | grep -F -e "$MARK" -e "$CLIENT" '
            '| tail -n 3); [ -n "$found" ] && break; i=$((i+1)); [ $i -ge $n ] && break; sleep 0.05; done; '
            'printf \'%s\\n\' "$found"; }',
            "unit() { printf '%s %s %s\\n' \"$1\" \"$(systemctl is-active \"$1\")\" \"$(systemctl is-enabled \"$1\")\"; }"]


def _lb_sections(inventory):
    q = shlex.quote
    cluster = inventory.cluster
    iface, vip = cluster["interface"], cluster["vip"]
    lines = [f"IFACE={q(iface)}",
             "sec units", *(f"unit {unit}" for unit in roles.UNITS[roles.LB]),
             "sec addr", 'ip -4 -o addr show dev "$IFACE"',
             "sec mac", 'cat /sys/class/net/"$IFACE"/address',
             "sec keepalived",
             f"if [ -s {keepalived.STATE_FILE} ]; then echo \"file $(cat {keepalived.STATE_FILE})\"; "
             "else echo \"journal $(journalctl -u keepalived -o cat --no-pager -n 300 | "
             "grep -Eo 'Entering [A-Z]+ STATE' | tail -n 1)\"; fi",
             "sec vrrp_hold", f"{keepalived.held_command()} && echo held",
             "sec sysctl", "sysctl -n net.ipv4.ip_nonlocal_bind",
             "sec sysctl_files",
             "grep -Hs ip_nonlocal_bind /etc/sysctl.conf /etc/sysctl.d/*.conf /run/sysctl.d/*.conf "
             "/usr/local/lib/sysctl.d/*.conf /usr/lib/sysctl.d/*.conf",
             "sec haproxy_check",
             f'out=$(haproxy -c -f {haproxy.CONFIG} 2>&1); rc=$?; printf \'%s\\n\' "$out" | grep -v NOTICE | head -n 6; '
             'echo "rc=$rc"',
             "sec pids", "pidof haproxy",
             "sec frontends", haproxy.runtime_command("show stat -1 1 -1")]
    proxy = " --haproxy-protocol" if cluster["mode"] == "tcp" else ""
    for web in inventory.webs():
        lines += [f"sec {q('page ' + web.name)}",
                  f"curl -s --noproxy '*' -m 2{proxy} -w '\\n@@status %{{http_code}}' http://{web.address}/"]
    lines += ["sec haproxy_log",
              f"if {keepalived.holds_vip_command(vip, iface)}; then n={LOG_WAIT_STEPS}; else n=1; fi",
              "wait_for $n /var/log/haproxy.log"]
    return lines


def _web_sections(host, served):
    steps = LOG_WAIT_STEPS if served in (None, host.name) else 1
    return ["sec web_units", *(f"unit {unit}" for unit in roles.UNITS[roles.WEB]),
            "sec access_log", f"wait_for {steps} /var/log/apache2/access.log",
            "sec options", "tail -n 2000 /var/log/apache2/access.log | grep -F '\"OPTIONS ' | tail -n 50",
            "sec apache_loaded", "grep -h 'resuming normal operations' /var/log/apache2/error.log | tail -n 1",
            "sec utc_offset", "date +%z"]


# --- its output -------------------------------------------------------------------------------------

def parse_sections(output, token):
    """{name: body} of a gathering script's output; a section starts with a line 'TOKEN name'."""
    return {header.strip(): body.rstrip("\n") for header, body in marked_sections(output, token)}


def parse_units(body):
    """'haproxy active enabled' lines -> {unit: (active, enabled)}."""
    found = {}
    for line in body.splitlines():
        words = line.split()
        if words:
            found[words[0]] = ((words[1:2] or ["unknown"])[0], (words[2:3] or ["not-found"])[0])
    return found


def parse_keepalived_state(body):
    """State from the notify state file ('file MASTER 1700000000.1 VI_1 101') or the journal
    ('journal Entering BACKUP STATE'); None when unknown."""
    words = body.split()
    if len(words) >= 2 and words[0] == "file":
        return words[1].upper()
    match = re.search(r"Entering (\w+) STATE", body)
    return match.group(1).upper() if match else None
