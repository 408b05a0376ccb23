"""Refuse to send anything to a lab address unless the kernel routes it through the lab's own bridge.

"Directly connected" is not enough: this machine's uplink is directly connected too, and it is not ours.
"""

import ipaddress
import json
import subprocess

from hafab.engine.errors import InputError


def route_dev(address):
    """(device, gateway or None) the kernel would use for address."""
    try:
        out = subprocess.run(["ip", "-j", "route", "get", address], capture_output=True, text=True,
                             timeout=5, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError("lab", f"cannot ask the kernel how {address} is routed ({exc})") from None
    if out.returncode != 0:
        return None, None
    routes = json.loads(out.stdout or "[]")
    if not routes:
        return None, None
    return routes[0].get("dev"), routes[0].get("gateway")


def route_devs(addresses):
    """{address: (device, gateway or None)} for many addresses, asked of the kernel in one `ip -batch`
    (one process, not one per host); when that fails or answers oddly, each address is asked alone."""
    addresses = list(dict.fromkeys(addresses))
    if len(addresses) < 2:
        return {address: route_dev(address) for address in addresses}
    script = "".join(f"route get {ipaddress.IPv4Address(address)}\n" for address in addresses)
    try:
        out = subprocess.run(["ip", "-j", "-batch", "-"], input=script, capture_output=True, text=True, timeout=5)
        lines = out.stdout.splitlines() if out.returncode == 0 else []
        routes = [json.loads(line) for line in lines]
    except (OSError, subprocess.TimeoutExpired, ValueError):
        routes = []
    if len(routes) != len(addresses) or any(len(r) != 1 or r[0].get("dst") != a for r, a in zip(routes, addresses)):
        return {address: route_dev(address) for address in addresses}
    return {address: (r[0].get("dev"), r[0].get("gateway")) for address, r in zip(addresses, routes)}


def require_lab_route(address, bridge, route=None):
    """Raise InputError unless address is reached directly through the lab bridge `bridge`
    (`route`: its (device, gateway) when already asked, see route_devs)."""
    dev, gateway = route or route_dev(address)
    if dev != bridge or gateway:
        via = f"dev {dev}" + (f" via {gateway}" if gateway else "") if dev else "no route"
        raise InputError("lab", f"{address} is routed through {via}, not the lab bridge {bridge}: "
                                "refusing to send anything (is the lab up? run `inv lab.up`)")


def require_lab_routes(addresses, bridge):
    """require_lab_route for every address, the kernel asked once for all of them."""
    for address, route in route_devs(addresses).items():
        require_lab_route(address, bridge, route)


def in_subnet(address, inventory):
    """True when address lies inside the inventory's cluster.subnet."""
    return ipaddress.IPv4Address(address) in ipaddress.IPv4Network(inventory.cluster["subnet"])
