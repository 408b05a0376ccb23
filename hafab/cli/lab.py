"""`inv lab.*`: the local lab of systemd-nspawn hosts (see hafab.lab)."""

from invoke import Collection, task

from hafab.cli.common import hostname_re as _hostname_re, path_flag, reports_errors, text_flag
from hafab.engine.errors import InputError
from hafab.engine.result import TaskResult

INVENTORY_HELP = "Path of the inventory file (default: hosts.yaml)."


def load(path):
    """The inventory named by --inventory (checked: exit 2 when given without a value)."""
    from hafab.cluster import inventory as inventorylib  # the cluster and lab code load when a task runs

    return inventorylib.load(path_flag("--inventory", path))


def _lab():
    from hafab import lab

    return lab


@task(auto_shortflags=False, optional=["inventory"],
      help={"inventory": INVENTORY_HELP,
            "no-multicast": "Drop IPv4 multicast (224.0.0.0/4, VRRP's 224.0.0.18) between the lab's hosts on its "
                            "bridge, as many hosted networks do; kept until lab.up --multicast or lab.down.",
            "multicast": "Forward multicast between the lab's hosts again (the default of a new lab)."})
@reports_errors
def up(c, inventory="hosts.yaml", no_multicast=False, multicast=False):
    """Boot every host of the inventory as a local Debian machine and wait until all answer SSH.

    Builds the base root once (cached in /var/cache/hafab), then a bridge holding the subnet's first
    address and one systemd-nspawn machine per host. Safe to run again: running hosts are kept, a host
    added to the inventory is booted without touching them (`lab.down --host NAME` removes one), and the
    lab's multicast setting stays unless --no-multicast or --multicast is given.
    """
    if no_multicast and multicast:
        raise InputError("--no-multicast", "cannot be given together with --multicast")
    passes = False if no_multicast else (True if multicast else None)
    _lab().up(load(inventory), multicast_passes=passes)


@task(auto_shortflags=False, optional=["inventory", "host"],
      help={"inventory": INVENTORY_HELP, "purge": "Also delete the cached base root (rebuilt by the next lab.up).",
            "host": "Remove only this host (its machine, netns, veth and disk); the others keep running. "
                    "It may be a host already gone from the inventory that the lab still runs."})
@reports_errors
def down(c, inventory="hosts.yaml", purge=False, host=None):
    """Remove every machine, network namespace, veth, mount and the bridge of the lab (or one host: --host)."""
    name = text_flag("--host", host, None, "a host name")
    if name is not None and not _hostname_re().fullmatch(name):
        raise InputError("--host", f"{name!r} is not a host name")
    if name is not None and purge:
        raise InputError("--host", "removes one host: --purge goes only with a whole lab.down")
    if name is not None:
        _lab().remove_host(load(inventory), name)
    else:
        _lab().down(load(inventory), purge=purge)


@task(auto_shortflags=False, optional=["inventory"],
      help={"inventory": INVENTORY_HELP, "json": "Print one JSON document on stdout (shape in docs/contract.md)."})
@reports_errors
def status(c, inventory="hosts.yaml", json=False):
    """Show each host (running or stopped, address, SSH ok) and which load balancer holds the VIP."""
    inventory = load(inventory)
    report = _lab().status(inventory)
    running = "up" if _lab().is_up(inventory) else "down (run `inv lab.up`)"
    lines = [f"lab {running}: bridge {report['bridge']}, subnet {report['subnet']}"
             + (", multicast dropped between hosts" if report["multicast"] == "dropped" else "")]
    for name, host in report["hosts"].items():
        ssh = "ssh ok" if host["ssh"] else "no ssh"
        lines.append(f"  {name:<16} {host['state']:<8} {host['address']:<16} {ssh}")
    lines.append(f"VIP holder: {report['vip_holder'] or 'nobody'}")
    return TaskResult(True, report, "\n".join(lines) + "\n")


# No `optional` flags beside a positional argument: Invoke would call `--inventory X HOST` ambiguous.
@task(auto_shortflags=False,
      help={"host": "Name of the host to power off.", "inventory": INVENTORY_HELP,
            "power-cut": "Kill the host at once (a power cut) instead of halting its systemd cleanly."})
@reports_errors
def stop(c, host, inventory="hosts.yaml", power_cut=False):
    """Power one host off: all its processes stop and its address stops answering; its disk is kept."""
    _lab().stop_host(load(inventory), host, power_cut=power_cut)


@task(auto_shortflags=False,
      help={"host": "Name of the host to power on.", "inventory": INVENTORY_HELP})
@reports_errors
def start(c, host, inventory="hosts.yaml"):
    """Power one host back on, with its files, and wait until it answers SSH."""
    _lab().start_host(load(inventory), host)


lab_collection = Collection("lab", up, down, status, stop, start)
lab = lab_collection  # the name tasks.py imports
