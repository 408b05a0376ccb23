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
