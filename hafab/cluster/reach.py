"""Which ssh_config to dial the hosts with, and the checks that keep lab traffic on the lab bridge.

docs/contract.md: `--ssh-config` when given; otherwise `.lab/ssh_config` while the lab is up, with every
address inside cluster.subnet routed through the lab's own bridge; otherwise refuse (exit 2).
"""

import os

from hafab import lab
from hafab.lab import netguard
from hafab.engine.errors import InputError

LAB_DOWN = "the lab is not up: run `inv lab.up`, or pass --ssh-config for real hosts"


def ssh_config_for(inventory, hosts, ssh_config=None):
    """The ssh_config path to use for `hosts` (Host objects); InputError when none may be used."""
    if ssh_config:
        if not os.path.isfile(ssh_config):
            raise InputError("--ssh-config", f"{ssh_config}: no such file")
        return ssh_config
    if not lab.is_up(inventory):
        raise InputError("", LAB_DOWN)
    require_lab_routes(inventory, [h.address for h in hosts])
    return lab.ssh_config_path(inventory)


def require_lab_routes(inventory, addresses):
    """Every lab address must be routed through the lab bridge, or nothing is sent (InputError)."""
    if not lab.is_up(inventory):
        raise InputError("", LAB_DOWN)
    bridge = lab.bridge_name(inventory)
    for address in addresses:
        if netguard.in_subnet(address, inventory):
            netguard.require_lab_route(address, bridge)
