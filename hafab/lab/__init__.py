"""The local lab: every host of hosts.yaml as a Debian machine booted with systemd-nspawn on this box.

Every function takes the inventory as a loaded `hafab.inventory.Inventory` or as the path of hosts.yaml.
"""

from hafab.cluster import inventory as _inventory
from hafab.lab import names as _names
from hafab.lab import sshconfig as _sshconfig
from hafab.lab import state as _state


def _lifecycle():
    # Loaded on first use: provision and verify only need is_up() and names, and start faster without it.
    from hafab.lab import lifecycle
    return lifecycle


def _progress_to_stderr(message):
    _lifecycle().progress_to_stderr(message)


def _load(inventory):
    return _inventory.load(inventory) if isinstance(inventory, (str, bytes)) or hasattr(inventory, "__fspath__") \
        else inventory


def lab_dir(inventory):
    """The `.lab` directory next to hosts.yaml (ssh_config, key, known_hosts, state)."""
    return _names.lab_dir(_load(inventory))


def ssh_config_path(inventory):
    return _sshconfig.config_path(_load(inventory))


def bridge_name(inventory):
    return _names.bridge(_load(inventory))


def host_netns(inventory, host_name):
    """Name of the host's network namespace (for `ip -n NAME ...`)."""
    return _names.netns(_load(inventory), host_name)


def is_up(inventory):
    """True when the lab's state file is present and its bridge exists."""
    return _state.is_up(_load(inventory))


def up(inventory, progress=_progress_to_stderr, multicast_passes=None):
    """Build the base if needed, then every host; returns when all answer SSH.
    multicast_passes: False drops multicast between the hosts, True forwards it, None keeps the setting."""
    return _lifecycle().up(_load(inventory), progress=progress, multicast_passes=multicast_passes)


def down(inventory, purge=False, progress=_progress_to_stderr):
    return _lifecycle().down(_load(inventory), purge=purge, progress=progress)


def remove_host(inventory, name, progress=_progress_to_stderr):
    """Remove one host of the running lab (of hosts.yaml, or one that left it): the others keep running."""
    return _lifecycle().remove_host(_load(inventory), name, progress=progress)


def status(inventory):
    """{"bridge", "subnet", "hosts": {name: {"state", "address", "ssh"}}, "vip_holder", "multicast"}."""
    return _lifecycle().status(_load(inventory))


def stop_host(inventory, name, power_cut=False):
    return _lifecycle().stop_host(_load(inventory), name, power_cut=power_cut)


def start_host(inventory, name):
    return _lifecycle().start_host(_load(inventory), name)


__all__ = ["lab_dir", "is_up", "ssh_config_path", "bridge_name", "host_netns",
           "up", "down", "remove_host", "status", "stop_host", "start_host"]
