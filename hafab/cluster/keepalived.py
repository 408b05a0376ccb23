"""Keepalived and the VIP as the cluster uses them: who holds the VIP, and the VRRP state file.

The state file is written by `files/keepalived/notify.sh` on every transition ("STATE EPOCH NAME
PRIORITY"); tests/unit/test_cluster_vocabulary.py pins the path to that script.
"""

import shlex

STATE_FILE = "/run/keepalived/state"


def holds_vip(ip_addr_output, vip):
    """Whether `ip -4 -o addr show` output lists the VIP as an address."""
    return f" {vip}/" in ip_addr_output


def holds_vip_command(vip, interface=None):
    """Shell command whose exit status is 0 on the load balancer that holds the VIP."""
    dev = f" dev {shlex.quote(interface)}" if interface else ""
    return f"ip -4 -o addr show{dev} | grep -qF {shlex.quote(' ' + vip + '/')}"


def state_command():
    """Shell command printing the current VRRP state word (MASTER, BACKUP, FAULT), or nothing."""
    return f'cut -d" " -f1 {STATE_FILE} 2>/dev/null'


CONFIG = "/etc/keepalived/keepalived.conf"
# While this file holds a non-zero number the LB is in FAULT and claims nothing (keepalived.conf's
# track_file hafab_hold); hafab.cluster.vrrpturns holds LBs with it during a VRRP mode switch.
HOLD_FILE = "/run/hafab-vrrp-hold"


def hold_command():
    """Shell command putting the hold in place (written aside, then renamed: keepalived reads it whole)."""
    return f"echo 1 > {HOLD_FILE}.tmp && mv -f {HOLD_FILE}.tmp {HOLD_FILE}"


def release_command():
    return f"rm -f {HOLD_FILE}"


def held_command():
    """Shell command whose exit status is 0 while a hold is in place."""
    return f"test -e {HOLD_FILE}"


def unicast_live_command():
    """Shell command whose exit status is 0 when the keepalived.conf in place sends unicast adverts."""
    return f"grep -qE '^[[:space:]]*unicast_peer' {CONFIG}"


# How long an LB's VRRP state must stay unchanged to count as settled: its master-down interval
# (3 adverts + skew: ~0.36 s with the tuned advert_int 0.1, ~3.6 s with the seed's 1 s) with a margin.
SETTLE_SECONDS = {"tuned": 1.0, "seed": 4.0}


def settle_command():
    """Shell command printing "STATE EPOCH NOW CONFIG": the last transition ("x 0" when there is none),
    the host's clock, and keepalived.conf's inode and mtime ("-" when there is none), which change
    whenever the file is written (hafab writes a new file and renames it over the old)."""
    return (f'set -- $(cat {STATE_FILE} 2>/dev/null) x 0; '
            f'echo "$1 $2 $(date +%s.%N) $(stat -c %i.%Y {CONFIG} 2>/dev/null || echo -)"')


def parse_settle(output):
    """(state, seconds since its transition, config identity) from settle_command()'s output; state None
    when keepalived never wrote one, the age infinite when unknown."""
    try:
        state, epoch, now, config = output.split()
        age = float(now) - float(epoch)
    except ValueError:
        return None, float("inf"), None
    return (None, float("inf"), config) if state == "x" else (state, age, config)
