"""Which ssh_config to dial the hosts with, and the checks that keep lab traffic on the lab bridge.

docs/contract.md: `--ssh-config` when given; otherwise `.lab/ssh_config` while the lab is up, with every
address inside cluster.subnet routed through the lab's own bridge; otherwise refuse (exit 2). Either way
the whole file is read and checked here, before any connection: a bad line, an option hafab refuses, or a
targeted host (or load balancer, which a rolling change drains through) that no Host block gives a
HostName is exit 2 naming the file (and line and option).
"""

import os

from hafab import lab
from hafab.lab import netguard
from hafab.engine import transport
from hafab.engine.errors import InputError

LAB_DOWN = "the lab is not up: run `inv lab.up`, or pass --ssh-config for real hosts"


def ssh_config_for(inventory, hosts, ssh_config=None):
    """The checked ssh_config to use for `hosts` (Host objects): a transport SshConfig, which is also
    os.PathLike (its path); InputError when none may be used or it does not describe every host."""
    if ssh_config:
        if not os.path.exists(ssh_config):
            raise InputError("--ssh-config", f"{ssh_config}: no such file")
        path = ssh_config
    else:
        if not lab.is_up(inventory):
            raise InputError("", LAB_DOWN)
        require_lab_routes(inventory, [h.address for h in hosts])
        path = lab.ssh_config_path(inventory)
    config = transport.load_config(path)
    names = [h.name for h in hosts]
    # a rolling change drains web servers through every load balancer: those are dialled too
    names += [h.name for h in inventory.lbs() if h.name not in names]
    transport.check_hosts(config, names)
    return config


def require_lab_routes(inventory, addresses):
    """Every lab address must be routed through the lab bridge, or nothing is sent (InputError)."""
    if not lab.is_up(inventory):
        raise InputError("", LAB_DOWN)
    netguard.require_lab_routes([a for a in addresses if netguard.in_subnet(a, inventory)], lab.bridge_name(inventory))
