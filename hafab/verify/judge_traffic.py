"""Judging what the requests from this machine got: each web's own page, the direct-access block,
round-robin through the VIP and persistence (cookie or source).

Pure: plain data in, (ok, detail) out; detail is one line of evidence, good or bad.
"""

import hashlib


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


def _counts_text(found):
    return ", ".join(f"{name} {n}" for name, n in sorted(found.items()))


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
