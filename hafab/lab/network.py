"""The lab's bridge, and each host's network namespace with its `eth1` on that bridge."""

import contextlib
import ipaddress
import json
import os

from hafab.engine.errors import InputError
from hafab.lab import names
from hafab.lab.run import ok, run


def link_exists(device):
    return os.path.exists(f"/sys/class/net/{device}")


def netns_exists(inventory, host):
    return os.path.exists(names.netns_path(inventory, host))


def foreign_routes(inventory):
    """Routes of another device that overlap the lab subnet (the default route does not count)."""
    subnet = ipaddress.IPv4Network(inventory.cluster["subnet"])
    bridge = names.bridge(inventory)
    routes = json.loads(run(["ip", "-j", "-4", "route", "show", "table", "all"]) or "[]")
    found = []
    for route in routes:
        dst = route.get("dst", "default")
        if dst == "default" or route.get("dev") == bridge or route.get("type") in ("broadcast", "multicast"):
            continue
        try:
            net = ipaddress.IPv4Network(dst, strict=False)
        except ValueError:
            continue
        if net.overlaps(subnet) and route.get("dev") != "lo":
            found.append(f"{dst} dev {route.get('dev')}")
    return found


def refuse_if_subnet_taken(inventory):
    taken = foreign_routes(inventory)
    if taken:
        raise InputError(inventory.where, f"cluster.subnet {inventory.cluster['subnet']} is already "
                                          f"routed through another interface ({taken[0]}): refusing to start the lab")


def ensure_bridge(inventory):
    """Create the lab bridge (fixed MAC, STP and multicast snooping off) holding the subnet's .1."""
    bridge = names.bridge(inventory)
    if not link_exists(bridge):
        run(["ip", "link", "add", bridge, "address", names.mac(inventory, "bridge"), "type", "bridge",
             "stp_state", "0", "mcast_snooping", "0", "forward_delay", "0"])
    address = names.bridge_address(inventory)
    if address.split("/")[0] not in run(["ip", "-4", "-o", "addr", "show", "dev", bridge]):
        run(["ip", "addr", "add", address, "dev", bridge])
    run(["ip", "link", "set", bridge, "up"])
    return bridge


def delete_bridge(inventory):
    bridge = names.bridge(inventory)
    if link_exists(bridge):
        run(["ip", "link", "del", bridge])


def plug_host(inventory, host):
    """Make the host's netns with eth1 (fixed MAC, its address) on the bridge; lo up."""
    ns = names.netns(inventory, host)
    veth = names.veth(inventory, host)
    inner = inventory.cluster["interface"]
    if not netns_exists(inventory, host):
        run(["ip", "netns", "add", ns])
    if not link_exists(veth):
        run(["ip", "link", "add", veth, "address", names.mac(inventory, host, "outer"), "type", "veth",
             "peer", "name", inner, "address", names.mac(inventory, host, "inner"), "netns", ns])
    run(["ip", "link", "set", veth, "master", names.bridge(inventory), "up"])
    address = f"{inventory.hosts[host].address}/{names.prefixlen(inventory)}"
    if inventory.hosts[host].address not in run(["ip", "-n", ns, "-4", "-o", "addr", "show", "dev", inner]):
        run(["ip", "-n", ns, "addr", "add", address, "dev", inner])
    run(["ip", "-n", ns, "link", "set", inner, "up"])
    run(["ip", "-n", ns, "link", "set", "lo", "up"])


def unplug_host(inventory, host):
    """Delete the host's netns (its eth1, and so the veth pair, goes with it) and any stray veth."""
    if netns_exists(inventory, host):
        try:
            run(["ip", "netns", "del", names.netns(inventory, host)])
        except Exception:
            if netns_exists(inventory, host):  # gone meanwhile (its host stopped on its own) is fine
                raise
    if host not in inventory.hosts:  # gone from hosts.yaml: its veth went with the netns
        return
    veth = names.veth(inventory, host)
    if link_exists(veth):
        with contextlib.suppress(Exception):
            run(["ip", "link", "del", veth])


def netns_addresses(inventory, host):
    """IPv4 addresses inside the host's netns (empty when it is down)."""
    if not netns_exists(inventory, host):
        return []
    out = run(["ip", "-n", names.netns(inventory, host), "-j", "-4", "addr", "show"], check=False)
    addresses = []
    for link in json.loads(out or "[]"):
        addresses.extend(a["local"] for a in link.get("addr_info", []))
    return addresses


def flush_neighbour(inventory, host):
    """Forget the machine's ARP entry for the host so a restarted host answers at once."""
    if host in inventory.hosts and link_exists(names.bridge(inventory)):
        ok(["ip", "neigh", "del", inventory.hosts[host].address, "dev", names.bridge(inventory)])


def other_lab_bridges(inventory):
    """Bridges of other hafab labs on this machine (their names share our prefix, not our tag)."""
    ours = names.bridge(inventory)
    prefix = ours.split("-")[0] + "-"
    return [link for link in os.listdir("/sys/class/net") if link.startswith(prefix) and link != ours
            and os.path.isdir(f"/sys/class/net/{link}/bridge")]
