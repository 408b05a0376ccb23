"""Judging each host's own state: its units, who holds the VIP and what keepalived says, the VIP's
ARP entry here, the nonlocal-bind sysctl and `haproxy -c` on the live config.

Pure: facts in, (ok, detail) out.
"""

import re

from hafab.cluster import keepalived
from hafab.verify.judge_logs import trim


def judge_units(unit_states, wanted):
    """Every wanted unit active and enabled. unit_states: {unit: (active, enabled)}."""
    bad, good = [], []
    for unit in wanted:
        active, enabled = unit_states.get(unit, ("unknown", "not-found"))
        (good if active == "active" and enabled == "enabled" else bad).append(f"{unit} {active}/{enabled}")
    if bad:
        return False, "not active+enabled: " + ", ".join(bad) + (f" (ok: {', '.join(good)})" if good else "")
    return True, ", ".join(good)


# --- VIP and keepalived ---------------------------------------------------------------------------

def judge_vip_holder(holding, lbs, preempt, states=None, vrrp=None):
    """Exactly one LB holds the VIP; with preempt the highest-priority healthy one.
    holding: [lb names with the VIP]; lbs: {name: (priority, healthy)}; states: {lb: keepalived's state};
    vrrp: cluster.vrrp, to say why several LBs may each believe they are alone."""
    if not holding:
        return False, "no LB holds the VIP (outage)"
    if len(holding) > 1:
        return False, split_brain(holding, states or {}, vrrp)
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


def split_brain(holding, states, vrrp):
    """The detail of a VIP held by several LBs: who, their keepalived states, and the likely cause."""
    names = sorted(holding)
    who = f"{names[0]} and {names[1]} both" if len(names) == 2 else ", ".join(names[:-1]) + f" and {names[-1]} all"
    masters = [n for n in names if states.get(n) == "MASTER"]
    detail = f"split brain: {who} hold the VIP"
    if masters:
        detail += f" (keepalived MASTER on {', '.join(masters)})"
    if vrrp == "multicast":
        detail += ": their VRRP adverts to 224.0.0.18 do not reach each other; if the network drops " \
                  "multicast, set cluster.vrrp: unicast"
    elif vrrp == "unicast":
        detail += ": their unicast VRRP adverts (IP protocol 112) do not reach each other"
    return detail


def judge_keepalived(lb, state, holder, healthy, held=False):
    """MASTER on the holder, BACKUP on every other healthy LB (an unhealthy LB fails `services`); an LB
    in FAULT because of a VRRP hold (hafab.cluster.vrrpturns) says so."""
    shown = state or "unknown"
    if held and lb != holder:
        return False, (f"{shown}: held by {keepalived.HOLD_FILE}, which an interrupted provision left "
                       "(the next `inv provision` releases it)")
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
    return False, f"haproxy -c exit {rc}: " + trim(why)
