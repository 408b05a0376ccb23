"""The local lab: every host of hosts.yaml as a Debian machine booted with systemd-nspawn on this box.

Every function takes the inventory loaded (`hafab.cluster.inventory.load`): the lab reads its hosts,
addresses and cluster settings and knows nothing else of the cluster.
"""

from hafab.lab import names as _names
from hafab.lab import sshconfig as _sshconfig
from hafab.lab import state as _state


def _lifecycle():
    # Loaded on first use: provision and verify only need is_up() and names, and start faster without it.
    from hafab.lab import lifecycle
    return lifecycle


def _progress_to_stderr(message):
    _lifecycle().progress_to_stderr(message)


def lab_dir(inventory):
    """The `.lab` directory next to hosts.yaml (ssh_config, key, known_hosts, state)."""
    return _names.lab_dir(inventory)


def ssh_config_path(inventory):
    return _sshconfig.config_path(inventory)


def bridge_name(inventory):
    return _names.bridge(inventory)


def host_netns(inventory, host_name):
    """Name of the host's network namespace (for `ip -n NAME ...`)."""
    return _names.netns(inventory, host_name)


def is_up(inventory):
    """True when the lab's state file is present and its bridge exists."""
    return _state.is_up(inventory)


def up(inventory, progress=_progress_to_stderr, multicast_passes=None):
    """Build the base if needed, then every host; returns when all answer SSH.
    multicast_passes: False drops multicast between the hosts, True forwards it, None keeps the setting."""
    return _lifecycle().up(inventory, progress=progress, multicast_passes=multicast_passes)


def down(inventory, purge=False, progress=_progress_to_stderr):
    return _lifecycle().down(inventory, purge=purge, progress=progress)


def remove_host(inventory, name, progress=_progress_to_stderr):
    """Remove one host of the running lab (of hosts.yaml, or one that left it): the others keep running."""
    return _lifecycle().remove_host(inventory, name, progress=progress)


def status(inventory):
    """{"bridge", "subnet", "hosts": {name: {"state", "address", "ssh"}}, "vip_holder", "multicast"}."""
    return _lifecycle().status(inventory)


def stop_host(inventory, name, power_cut=False):
    return _lifecycle().stop_host(inventory, name, power_cut=power_cut)


def start_host(inventory, name):
    return _lifecycle().start_host(inventory, name)


__all__ = ["lab_dir", "is_up", "ssh_config_path", "bridge_name", "host_netns",
           "up", "down", "remove_host", "status", "stop_host", "start_host"]
