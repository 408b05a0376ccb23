"""The pure half of `inv verify`: parse what was gathered (pages, CSV, log lines, script output) and judge it.

Nothing here talks to a host or the network, so every rule is unit-tested with plain data.
Each judge_* function returns (ok, detail): detail is one line of evidence, good or bad.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from hafab.cluster.haproxy import parse_stats_csv  # noqa: F401  (judge reads the stats CSV with it)

PID_RE = re.compile(r"Statistics Report for pid (\d+)(?: on ([\w.-]+))?")
ACCESS_RE = re.compile(r'^(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d{3}|-) '
                       r'(?P<bytes>\S+)(?: "(?P<referer>[^"]*)" "(?P<agent>[^"]*)")?(?:.*? via=(?P<via>\S+))?')


@dataclass
class Check:
    name: str
    host: str
    ok: bool
    detail: str

    def as_dict(self):
        return {"name": self.name, "host": self.host, "ok": self.ok, "detail": self.detail}


# --- script output -------------------------------------------------------------------------------

def sections(output, token):
    """{name: body} of a gathering script's output; a section starts with a line 'TOKEN name'."""
    found = {}
    for chunk in ("\n" + output).split("\n" + token + " ")[1:]:
        name, _, body = chunk.partition("\n")
        found[name.strip()] = body.rstrip("\n")
    return found


def units(body):
    """'haproxy active enabled' lines -> {unit: (active, enabled)}."""
    found = {}
    for line in body.splitlines():
        words = line.split()
        if words:
            found[words[0]] = ((words[1:2] or ["unknown"])[0], (words[2:3] or ["not-found"])[0])
    return found


def judge_units(facts_units, wanted):
    """Every wanted unit active and enabled."""
    bad, good = [], []
    for unit in wanted:
        active, enabled = facts_units.get(unit, ("unknown", "not-found"))
        (good if active == "active" and enabled == "enabled" else bad).append(f"{unit} {active}/{enabled}")
    if bad:
        return False, "not active+enabled: " + ", ".join(bad) + (f" (ok: {', '.join(good)})" if good else "")
    return True, ", ".join(good)


def addresses(ip_addr_output):
    """IPv4 addresses in `ip -4 -o addr show` output."""
    return re.findall(r"\binet (\d+\.\d+\.\d+\.\d+)/", ip_addr_output)


def keepalived_state(body):
    """State from the notify state file ('file MASTER 1700000000.1 VI_1 101') or the journal
    ('journal Entering BACKUP STATE'); None when unknown."""
    words = body.split()
    if len(words) >= 2 and words[0] == "file":
        return words[1].upper()
    match = re.search(r"Entering (\w+) STATE", body)
    return match.group(1).upper() if match else None


# --- web pages and round-robin ---------------------------------------------------------------------

def page_label(response):
    """Who answered: the server name the page carries, else a fingerprint of the body."""
    if response.server:
        return response.server
    return "page#" + hashlib.sha256(response.body.encode()).hexdigest()[:6]


def sequence(labels, limit=8):
    shown = ",".join(labels[:limit])
    return shown + (",…" if len(labels) > limit else "")


def counts(labels):
    found = {}
    for label in labels:
        found[label] = found.get(label, 0) + 1
    return found


def judge_round_robin(responses, webs):
    """N new-connection requests through the VIP must cycle over every web server in a fixed order
    (web1, web2, web1, … for two), which `balance roundrobin` with equal weights promises."""
    failed = [r for r in responses if r.status != 200]
    if failed:
        kinds = counts([str(r.status) if r.status else r.error for r in failed])
        return False, f"{len(failed)}/{len(responses)} requests failed ({_counts_text(kinds)})"
    labels = [page_label(r) for r in responses]
    seen = counts(labels)
    k = len(webs)
    tally = f"{len(labels)} requests: {_counts_text(seen)}"
    if len(seen) < k:
        missing = [w for w in webs if w not in seen]
        why = f"never {', '.join(missing)}" if missing else "pages not told apart"
        return False, f"only {len(seen)} of {k} web servers answered ({why}); {tally}"
    breaks = [i for i in range(k, len(labels)) if labels[i] != labels[i - k]]
    if len(set(labels[:k])) < k or breaks:
        at = breaks[0] if breaks else 0
        return False, f"not alternating (first break at request {at + 1}): {sequence(labels, 12)}; {tally}"
    spread = max(seen.values()) - min(seen.values())
    if spread > 1:  # cannot happen with an exact cycle; kept as the explicit promise
        return False, f"unbalanced: {tally}"
    return True, f"{sequence(labels)} ({tally}, in order)"


def _counts_text(found):
    return ", ".join(f"{name} {n}" for name, n in sorted(found.items()))


def judge_page(name, status, body_server):
    """A web server's own page names it."""
    if status != 200:
        return False, f"HTTP {status or 'no answer'}"
    if body_server != name:
        return False, f"page names {body_server!r}, not {name!r}"
    return True, f"200, <h1>{name}</h1>"


def judge_blocked(response):
    """A direct request from this machine to a web server must be refused (or time out quickly)."""
    ms = response.latency * 1000
    if response.status is None:
        if response.error in ("refused", "reset") or response.error.startswith("timeout"):
            return True, f"direct request from this machine {response.error} in {ms:.0f} ms"
        return False, f"direct request failed oddly: {response.error}"
    return False, (f"direct request from {response.local[0]} answered HTTP {response.status}"
                   f"{' from ' + response.server if response.server else ''} in {ms:.0f} ms: not blocked")


# --- HAProxy stats ----------------------------------------------------------------------------------

def judge_backends(rows, webs):
    """Every web server is a server row with status UP in the stats."""
    if not rows:
        return False, "no CSV stats"
    servers = {r.get("svname"): r for r in rows if r.get("svname") not in ("FRONTEND", "BACKEND")}
    parts, ok = [], True
    for web in webs:
        row = servers.get(web)
        if row is None:
            ok = False
            parts.append(f"{web} missing")
            continue
        status, check = row.get("status", "?"), row.get("check_status", "")
        if status != "UP":
            ok = False
        parts.append(f"{web} {status}" + (f" ({check})" if check else ""))
    return ok, ", ".join(parts)


def stats_identity(html):
    """(pid, node or None) from the HTML stats page ("Statistics Report for pid N[ on NODE]")."""
    match = PID_RE.search(html or "")
    if not match:
        return None, None
    return int(match.group(1)), match.group(2)


def frontend_sessions(rows):
    """{frontend: cumulative sessions} from CSV stats rows, leaving out local health frontends
    (keepalived's check script keeps counting on those)."""
    found = {}
    for row in rows:
        if row.get("svname") == "FRONTEND" and "health" not in row.get("pxname", ""):
            stot = row.get("stot", "")
            found[row["pxname"]] = int(stot) if stot.isdigit() else None
    return found


def judge_stats_holder(html, page_rows, holder, lb_facts, slack=3):
    """The stats page through the VIP comes from the holder's haproxy. Evidence: the page's pid is one
    of the holder's haproxy pids, and the page's cumulative session counters (the CSV variant, the last
    request sent through the VIP) are the holder's as read on its stats socket just after (up to `slack`
    sessions more). Two LBs in their own PID namespaces may well share a pid; their counters differ.
    lb_facts: {lb: {"pids": [int], "sessions": {frontend: int}}}."""
    pid, node = stats_identity(html)
    if pid is None:
        return False, "no 'Statistics Report for pid N' on the stats page"
    if holder is None:
        return False, f"stats page from pid {pid}, but no LB holds the VIP"
    if node and node != holder:
        return False, f"stats page says pid {pid} on {node}, but {holder} holds the VIP"
    page = frontend_sessions(page_rows)

    def counters_match(sessions):
        return bool(page) and all(v is not None and sessions.get(px) is not None and 0 <= sessions[px] - v <= slack
                                  for px, v in page.items())

    def describe(lb):
        facts = lb_facts.get(lb, {})
        sessions = ", ".join(f"{px} {facts.get('sessions', {}).get(px, '?')}" for px in page)
        return f"{lb}: pids {' '.join(map(str, facts.get('pids', []))) or 'none'}, sessions {sessions or '?'}"

    page_text = f"pid {pid}" + (f" on {node}" if node else "") + ", sessions " +         (", ".join(f"{px} {v}" for px, v in page.items()) or "?")
    served = [lb for lb, facts in lb_facts.items()
              if pid in facts.get("pids", []) and counters_match(facts.get("sessions", {}))]
    others = "; ".join(describe(lb) for lb in lb_facts if lb != holder)
    if holder not in served:
        return False, f"page: {page_text}; not {holder}'s ({describe(holder)})" + (f"; {others}" if others else "")
    if len(served) > 1:
        return True, f"page: {page_text} = {holder}'s (ambiguous: also {', '.join(x for x in served if x != holder)})"
    return True, f"page: {page_text} = {holder}'s" + (f" ({others})" if others else "")


# --- logs -------------------------------------------------------------------------------------------

def parse_access_line(line):
    """An Apache access-log line (hafab's `proxied` format or the seed's combined) as a dict, or None."""
    match = ACCESS_RE.match(line.strip())
    if not match:
        return None
    entry = match.groupdict()
    method, _, rest = (entry["request"] or "").partition(" ")
    entry["method"] = method
    entry["path"] = rest.rsplit(" ", 1)[0] if " " in rest else rest
    return entry


def access_time(entry):
    """The time of a parsed access-log entry as an aware datetime, or None."""
    try:
        return datetime.strptime(entry["time"], "%d/%b/%Y:%H:%M:%S %z")
    except (TypeError, ValueError):
        return None


def apache_loaded(error_log_line, utc_offset):
    """When Apache last loaded its configuration, from error.log's 'AH00489: ... configured -- resuming
    normal operations' line ("[Wed Nov 25 13:07:20.002572 2026] ..."), with the host's `date +%z`."""
    match = re.match(r"\[(\w{3} \w{3} +\d+ [\d:]+)(?:\.\d+)? (\d{4})\]", (error_log_line or "").strip())
    if not match:
        return None
    try:
        naive = datetime.strptime(f"{match.group(1)} {match.group(2)}", "%a %b %d %H:%M:%S %Y")
        offset = datetime.strptime((utc_offset or "+0000").strip(), "%z").tzinfo
    except ValueError:
        return None
    return naive.replace(tzinfo=offset)


def health_check_lines(lines, lb_addresses, since=None):
    """Logged HAProxy health checks: OPTIONS requests whose client is a load balancer (or '-', the
    seed's X-Forwarded-For format for a request without the header). With `since` (when Apache loaded
    its configuration), only lines logged in a later second count: earlier ones were logged by an older
    configuration (e.g. the package's default site, while provisioning)."""
    found = []
    for line in lines:
        entry = parse_access_line(line)
        if not entry or entry["method"] != "OPTIONS" or not (entry["client"] in lb_addresses or entry["client"] == "-"):
            continue
        when = access_time(entry)
        if since is not None and when is not None and when < since.replace(microsecond=0) + timedelta(seconds=1):
            continue
        found.append(line.strip())
    return found


def judge_access_log(found, marker, client, lb_addresses, served_by):
    """The marked request is logged by exactly one web server, the one that answered it, with this
    machine's address as the client. found: {web: [log lines containing the marker]}."""
    having = {web: lines for web, lines in found.items() if lines}
    if not having:
        return None, False, f"marker {marker} in no web server's access log"
    if len(having) > 1:
        return None, False, f"marker {marker} logged by {', '.join(sorted(having))}: one request, two servers?"
    web, lines = next(iter(having.items()))
    entry = parse_access_line(lines[-1])
    if entry is None:
        return web, False, f"unparsed log line: {lines[-1][:120]}"
    evidence = f"{entry['client']} \"{entry['request'][:60]}\" {entry['status']}" + \
               (f" via={entry['via']}" if entry.get("via") else "")
    if served_by and served_by != web:
        return web, False, f"logged by {web} but the page came from {served_by}: {evidence}"
    if entry["client"] in lb_addresses:
        return web, False, f"client logged as the LB's address, not this machine's {client}: {evidence}"
    if entry["client"] != client:
        return web, False, f"client logged as {entry['client']}, not this machine's {client}: {evidence}"
    return web, True, evidence


def judge_haproxy_log(lines, holder):
    if holder is None:
        return False, "no LB holds the VIP"
    if not lines:
        return False, "marked request not in /var/log/haproxy.log"
    return True, _trim(lines[-1])


def _trim(line, width=140):
    line = " ".join(line.split())
    return line if len(line) <= width else line[: width - 1] + "…"


# --- VIP and keepalived ---------------------------------------------------------------------------

def judge_vip_holder(holding, lbs, preempt):
    """Exactly one LB holds the VIP; with preempt the highest-priority healthy one.
    holding: [lb names with the VIP]; lbs: {name: (priority, healthy)}."""
    if not holding:
        return False, "no LB holds the VIP (outage)"
    if len(holding) > 1:
        return False, f"{' and '.join(sorted(holding))} all hold the VIP (split brain)"
    holder = holding[0]
    healthy = {name: prio for name, (prio, ok) in lbs.items() if ok}
    if preempt:
        if not healthy:
            return False, f"{holder} holds the VIP but no LB is healthy"
        best = max(healthy, key=healthy.get)
        if holder != best:
            return False, f"{holder} (priority {lbs[holder][0]}) holds the VIP, but preempt is on and " \
                          f"{best} (priority {healthy[best]}) is healthy"
        return True, f"{holder} holds the VIP (highest healthy priority {healthy[best]}, preempt)"
    note = "" if lbs.get(holder, (0, True))[1] else " (but it is not healthy)"
    return (not note), f"{holder} holds the VIP{note} (nopreempt: any healthy LB may)"


def judge_keepalived(lb, state, holder, healthy):
    """MASTER on the holder, BACKUP on every other healthy LB (an unhealthy LB fails `services`)."""
    shown = state or "unknown"
    if lb == holder:
        return (state == "MASTER"), f"{shown}" + ("" if state == "MASTER" else ", but it holds the VIP")
    if not healthy:
        return True, f"{shown} (not healthy: see services)"
    if state == "BACKUP":
        return True, f"BACKUP ({holder or 'nobody'} holds the VIP)"
    return False, f"{shown}, expected BACKUP ({holder or 'nobody'} holds the VIP)"


def judge_arp(mac, holder, macs):
    """The VIP's entry in this machine's ARP table is the holder's interface MAC. macs: {lb: mac}."""
    if holder is None:
        return False, "no LB holds the VIP"
    if not mac:
        return False, "no ARP entry for the VIP on this machine after probing it"
    want = (macs.get(holder) or "").lower()
    if mac == want:
        return True, f"VIP at {mac} = {holder}'s MAC"
    other = [lb for lb, m in macs.items() if m and m.lower() == mac]
    return False, f"VIP at {mac}" + (f" = {other[0]}'s MAC" if other else "") + f", not {holder}'s {want or '?'}"


# --- sysctl and config ------------------------------------------------------------------------------

def judge_nonlocal_bind(live, files_output):
    """Live value 1 and persisted as 1 (and never as anything else) in sysctl's files."""
    persisted, other = [], []
    for line in files_output.splitlines():
        path, sep, setting = line.partition(":")
        if not sep or setting.lstrip().startswith(("#", ";")):
            continue
        key, sep, value = setting.partition("=")
        if sep and key.strip().lstrip("-") == "net.ipv4.ip_nonlocal_bind":
            (persisted if value.strip() == "1" else other).append(f"{path}={value.strip()}")
    live = (live or "").strip()
    problems = []
    if live != "1":
        problems.append(f"live value {live or 'unreadable'}")
    if not persisted:
        problems.append("not persisted in /etc/sysctl.d")
    if other:
        problems.append("also set to other values: " + ", ".join(other))
    if problems:
        return False, "; ".join(problems)
    return True, f"live 1, persisted in {', '.join(p.rsplit('=', 1)[0] for p in persisted)}"


def judge_haproxy_config(output):
    """`haproxy -c` output ending in 'rc=N'."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    rc = lines[-1][3:] if lines and lines[-1].startswith("rc=") else "?"
    text = [line for line in lines[:-1] if line.strip()]
    if rc == "0":
        return True, "haproxy -c: " + (text[-1] if text else "valid")
    # the first specific alert ("parsing [file:line] : unknown keyword ..."), not the closing summary
    specific = [line for line in text if "ALERT" in line and "errors found" not in line.lower()]
    why = re.sub(r"^\[ALERT\]\s*\(\d+\)\s*:\s*(config\s*:\s*)?", "", (specific or text or ["no output"])[0])
    return False, f"haproxy -c exit {rc}: " + _trim(why)


# --- persistence ------------------------------------------------------------------------------------

def cookie_value(set_cookies, name="SERVERID"):
    for header in set_cookies:
        key, _, rest = header.partition("=")
        if key.strip() == name:
            return rest.split(";", 1)[0]
    return None


def judge_cookie(first, sticky, fresh):
    """cookie persistence: the first answer sets SERVERID; requests carrying it stay on that server;
    new clients (no cookie) are still balanced."""
    if first.status != 200:
        return False, f"first request: {first.summary()}"
    value = cookie_value(first.set_cookies)
    if not value:
        return False, "no SERVERID cookie set by the first answer"
    labels = [page_label(r) if r.status == 200 else (str(r.status) if r.status else r.error) for r in sticky]
    moved = [x for x in labels if x != page_label(first)]
    fresh_labels = sorted({page_label(r) for r in fresh if r.status == 200})
    others = f"; new clients landed on {', '.join(fresh_labels)}"
    if moved:
        return False, f"cookie SERVERID={value}: {len(moved)}/{len(labels)} requests left {page_label(first)} " \
                      f"({sequence(labels)}){others}"
    return True, f"cookie SERVERID={value}: {len(labels)}/{len(labels)} on {page_label(first)}{others}"


def judge_source(responses):
    """source persistence: every request from this machine lands on one server."""
    labels = [page_label(r) if r.status == 200 else (str(r.status) if r.status else r.error) for r in responses]
    seen = counts(labels)
    if len(seen) == 1 and responses and responses[0].status == 200:
        return True, f"{len(labels)}/{len(labels)} requests from this machine on {labels[0]}"
    return False, f"requests from one source spread: {_counts_text(seen)}"
