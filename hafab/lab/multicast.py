"""`inv lab.up --no-multicast`: the lab's bridge stops forwarding IPv4 multicast between lab hosts.

This is what many hosted and cloud networks do, and it takes VRRP's adverts to 224.0.0.18 with it: each
LB of a `cluster.vrrp: multicast` cluster then hears no peer and becomes MASTER (split brain), while
`cluster.vrrp: unicast` keeps working (its adverts are unicast IP protocol 112).

The rule is one nftables table of the `bridge` family on this machine, named after the lab, matching
only frames that enter from the lab's own bridge ports (the hosts' veths, `hv<tag>*`): no other
interface, bridge or table is touched. `lab.down` (and `lab.up --multicast`) delete the table.
"""

from hafab.lab import names
from hafab.lab.run import ok, run

MULTICAST = "224.0.0.0/4"


def table(inventory):
    """The lab's own nftables table (bridge family)."""
    return f"hafab_{names.tag(inventory)}_nomcast"


def port_pattern(inventory):
    """The bridge ports of this lab: every host's veth (names.veth) starts with this prefix."""
    return f"hv{names.tag(inventory)}*"


def ruleset(inventory):
    """The table, replaced as a whole in one transaction (made first so the delete always finds it)."""
    name = table(inventory)
    return (f"table bridge {name} {{}}\n"
            f"delete table bridge {name}\n"
            f"table bridge {name} {{\n"
            f"  chain forward {{\n"
            f"    type filter hook forward priority 0; policy accept;\n"
            f"    iifname \"{port_pattern(inventory)}\" ip daddr {MULTICAST} counter drop\n"
            f"  }}\n"
            f"}}\n")


def dropping(inventory):
    """True while the lab's no-multicast table exists."""
    return ok(["nft", "list", "table", "bridge", table(inventory)])


def drop(inventory):
    """Drop multicast between the lab's hosts (idempotent)."""
    run(["nft", "-f", "-"], input=ruleset(inventory))


def allow(inventory):
    """Forward multicast again: delete the lab's table if it is there."""
    if dropping(inventory):
        run(["nft", "delete", "table", "bridge", table(inventory)])


def dropped_count(inventory):
    """Packets the table dropped so far (None when the table is absent)."""
    if not dropping(inventory):
        return None
    out = run(["nft", "list", "table", "bridge", table(inventory)], check=False)
    for line in out.splitlines():
        if "counter packets" in line:
            return int(line.split("counter packets", 1)[1].split()[0])
    return 0
