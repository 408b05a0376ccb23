"""Judging the logs: the marked request in exactly one web server's access.log with this machine's
address, in the holder's haproxy.log, and no logged HAProxy health checks.

Pure: log lines in, (ok, detail) out.
"""

import re
from datetime import datetime, timedelta

ACCESS_RE = re.compile(r'^(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d{3}|-) '
                       r'(?P<bytes>\S+)(?: "(?P<referer>[^"]*)" "(?P<agent>[^"]*)")?(?:.*? via=(?P<via>\S+))?')


def trim(line, width=140):
    """One line of evidence: whitespace collapsed, at most `width` characters."""
    line = " ".join(line.split())
    return line if len(line) <= width else line[: width - 1] + "…"


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
    return True, trim(lines[-1])
