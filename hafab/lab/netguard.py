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


def require_lab_route(address, bridge):
    """Raise InputError unless address is reached directly through the lab bridge `bridge`."""
    dev, gateway = route_dev(address)
    if dev != bridge or gateway:
        via = f"dev {dev}" + (f" via {gateway}" if gateway else "") if dev else "no route"
        raise InputError("lab", f"{address} is routed through {via}, not the lab bridge {bridge}: "
                                "refusing to send anything (is the lab up? run `inv lab.up`)")


def in_subnet(address, inventory):
    """True when address lies inside the inventory's cluster.subnet."""
    return ipaddress.IPv4Address(address) in ipaddress.IPv4Network(inventory.cluster["subnet"])
