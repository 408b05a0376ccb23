"""Judging HAProxy's stats page as fetched through the VIP: every web server UP, and the page served
by the haproxy of the LB that holds the VIP.

Pure: rows are the dicts of `hafab.cluster.haproxy.parse_stats_csv`; each judge_* returns (ok, detail).
"""

import re

from hafab.cluster import haproxy

PID_RE = re.compile(r"Statistics Report for pid (\d+)(?: on ([\w.-]+))?")


def judge_backends(rows, webs):
    """Every web server is a server row with status UP in the stats."""
    if not rows:
        return False, "no CSV stats"
    servers = haproxy.server_rows(rows)
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

    page_text = f"pid {pid}" + (f" on {node}" if node else "") + ", sessions " + \
        (", ".join(f"{px} {v}" for px, v in page.items()) or "?")
    served = [lb for lb, facts in lb_facts.items()
              if pid in facts.get("pids", []) and counters_match(facts.get("sessions", {}))]
    others = "; ".join(describe(lb) for lb in lb_facts if lb != holder)
    if holder not in served:
        return False, f"page: {page_text}; not {holder}'s ({describe(holder)})" + (f"; {others}" if others else "")
    if len(served) > 1:
        return True, f"page: {page_text} = {holder}'s (ambiguous: also {', '.join(x for x in served if x != holder)})"
    return True, f"page: {page_text} = {holder}'s" + (f" ({others})" if others else "")
