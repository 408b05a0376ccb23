"""Which ssh_config to dial the hosts with, and the checks that keep lab traffic on the lab bridge.

docs/contract.md: `--ssh-config` when given; otherwise `.lab/ssh_config` while the lab is up, with every
address inside cluster.subnet routed through the lab's own bridge; otherwise refuse (exit 2).
"""

import os

from hafab import lab
from hafab.lab import netguard
from hafab.engine import readfile, transport
from hafab.engine.errors import InputError

LAB_DOWN = "the lab is not up: run `inv lab.up`, or pass --ssh-config for real hosts"


def ssh_config_for(inventory, hosts, ssh_config=None):
    """The ssh_config path to use for `hosts` (Host objects); InputError when none may be used."""
    if ssh_config:
        if not os.path.lexists(ssh_config):
            raise InputError("--ssh-config", f"{ssh_config}: no such file")
        readable_ssh_config(ssh_config, f"--ssh-config: {ssh_config}")
        return ssh_config
    if not lab.is_up(inventory):
        raise InputError("", LAB_DOWN)
    require_lab_routes(inventory, [h.address for h in hosts])
    path = lab.ssh_config_path(inventory)
    readable_ssh_config(path, os.path.relpath(path, inventory.root))
    return path


def readable_ssh_config(path, where):
    """The ssh_config's text: a regular UTF-8 file of bounded size, or InputError (exit 2, nothing sent)."""
    return readfile.read_text(path, where, limit=transport.SSH_CONFIG_LIMIT)


def require_lab_routes(inventory, addresses):
    """Every lab address must be routed through the lab bridge, or nothing is sent (InputError)."""
    if not lab.is_up(inventory):
        raise InputError("", LAB_DOWN)
    bridge = lab.bridge_name(inventory)
    for address in addresses:
        if netguard.in_subnet(address, inventory):
            netguard.require_lab_route(address, bridge)
