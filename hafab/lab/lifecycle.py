"""Bring a lab up and down, power single hosts off and on, and report its status."""

import contextlib
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from hafab.engine import boundary
from hafab.engine.errors import HostError, InputError
from hafab.lab import base, host, inotify, multicast, names, network, saltmaster, sshconfig, state

SSH_WAIT = 90  # seconds for every host of a lab.up to answer SSH


def progress_to_stderr(message):
    boundary.say(message)


def _require_up(inventory):
    if not state.is_up(inventory):
        raise InputError("lab", "the lab is not up: run `inv lab.up`")


def _require_host(inventory, name):
    if name not in inventory.hosts:
        raise InputError(inventory.where, f"hosts: no host named {name!r}")


def up(inventory, progress=progress_to_stderr, multicast_passes=None):
    """Build the base if needed, then the bridge and every host; wait until all answer SSH.

    multicast_passes: False drops multicast between the lab's hosts, True forwards it again, None keeps
    the lab's setting (a new lab forwards it)."""
    started = time.monotonic()
    _refuse_taken_subnet(inventory)
    with state.locked(inventory):
        _refuse_taken_subnet(inventory)  # again: another lab.up may have won the lock
        current = state.load(inventory)
        bridge = names.bridge(inventory)
        base_dir = base.ensure(progress)
        if current is None:
            current = {"subnet": inventory.cluster["subnet"], "bridge": bridge, "hosts": {}, "inotify_before": None}
        _raise_inotify(current, len(set(inventory.hosts) | set(current["hosts"])))
        state.save(inventory, current)
        network.ensure_bridge(inventory)
        _set_multicast(inventory, current, multicast_passes, progress)
        public_key = sshconfig.ensure_key(inventory)
        sshconfig.write_config(inventory)
        booted = [name for name in inventory.hosts
                  if _start(inventory, name, current, base_dir, public_key, progress)]
        _write_known_hosts(inventory)
        silent = sshconfig.wait_ssh(inventory, list(inventory.hosts), timeout=SSH_WAIT)
    if silent:
        raise HostError(f"lab: {', '.join(silent)} did not answer SSH within {SSH_WAIT}s "
                        f"(see {names.lab_data_dir(inventory)}/HOST/console.log)")
    progress(f"lab: {len(inventory.hosts)} hosts answer SSH ({len(booted)} booted) "
             f"in {time.monotonic() - started:.1f}s; try `ssh -F {sshconfig.config_path(inventory)} "
             f"{next(iter(inventory.hosts))}`")


def _set_multicast(inventory, current, passes, progress):
    """Apply the lab's multicast setting (saved in the state as "multicast": "forwarded" | "dropped")."""
    if passes is None:
        passes = current.get("multicast", "forwarded") != "dropped"
    if passes:
        multicast.allow(inventory)
    else:
        multicast.drop(inventory)
    setting = "forwarded" if passes else "dropped"
    if current.get("multicast", "forwarded") != setting:
        progress(f"lab: multicast {setting} between the lab's hosts on {names.bridge(inventory)}")
    current["multicast"] = setting
    state.save(inventory, current)


def _raise_inotify(current, host_count):
    """Enough inotify instances for every host (a host added to hosts.yaml too); the first value is kept."""
    before = inotify.raise_for(host_count)
    if current.get("inotify_before") is None:
        current["inotify_before"] = before


def _refuse_taken_subnet(inventory):
    bridge = names.bridge(inventory)
    if state.load(inventory) is None and network.link_exists(bridge):
        raise InputError(inventory.where, f"cluster.subnet {inventory.cluster['subnet']}: its lab bridge "
                                          f"{bridge} already exists for another lab: take that lab down first")
    network.refuse_if_subnet_taken(inventory)


def _start(inventory, name, current, base_dir, public_key, progress):
    """Boot one host unless it runs already; True when it was booted now."""
    record = current["hosts"].get(name)
    if host.running(record) and network.netns_exists(inventory, name):
        return False
    if record:
        _power_off(inventory, name, record)
    host.mount_overlay(inventory, name, base_dir)
    host.give_identity(inventory, name, public_key)
    network.plug_host(inventory, name)
    network.flush_neighbour(inventory, name)
    current["hosts"][name] = dict(host.boot(inventory, name), address=inventory.hosts[name].address)
    state.save(inventory, current)
    progress(f"lab: {name} booting ({inventory.hosts[name].address})")
    return True


def _power_off(inventory, name, record, power_cut=False):
    """Stop every process of the host, then remove its netns (and veth) and unmount its root."""
    host.halt(record, power_cut=power_cut)
    network.unplug_host(inventory, name)
    host.unmount_overlay(inventory, name)
    network.flush_neighbour(inventory, name)


def _write_known_hosts(inventory):
    keys = {}
    for name in inventory.hosts:
        path = os.path.join(names.host_dir(inventory, name), "upper/etc/ssh/ssh_host_ed25519_key.pub")
        with contextlib.suppress(FileNotFoundError), open(path) as f:
            keys[name] = " ".join(f.read().split()[:2])
    sshconfig.write_known_hosts(inventory, keys)


def stop_host(inventory, name, power_cut=False):
    """Power one host off: all its processes stop and its address stops answering; its disk is kept."""
    _require_host(inventory, name)
    _require_up(inventory)
    with state.locked(inventory):
        current = state.load(inventory)
        record = current["hosts"].get(name) or {}
        _power_off(inventory, name, record, power_cut=power_cut)
        current["hosts"][name] = {"pid": None, "started": None, "cgroups": []}
        state.save(inventory, current)


def start_host(inventory, name):
    """Power one host back on with its files; wait until it answers SSH."""
    _require_host(inventory, name)
    _require_up(inventory)
    base_dir = base.ensure(progress_to_stderr)
    with state.locked(inventory):
        current = state.load(inventory)
        _start(inventory, name, current, base_dir, sshconfig.ensure_key(inventory), lambda _: None)
        _write_known_hosts(inventory)
        silent = sshconfig.wait_ssh(inventory, [name], timeout=SSH_WAIT)
    if silent:
        raise HostError(f"lab: {name} did not answer SSH within {SSH_WAIT}s")


def remove_host(inventory, name, progress=progress_to_stderr):
    """Remove one host of a running lab (its machine, netns, veth, overlay and disk), the others untouched.

    The host may be one of hosts.yaml or one the lab still runs after it left hosts.yaml (its state file
    knows it)."""
    _require_up(inventory)
    with state.locked(inventory):
        current = state.load(inventory)
        if name not in inventory.hosts and name not in current["hosts"]:
            raise InputError(inventory.where, f"hosts: no host named {name!r}, and the lab runs none by that name")
        record = current["hosts"].get(name) or {}
        _power_off(inventory, name, record)
        _forget_neighbour(inventory, record.get("address"))
        shutil.rmtree(names.host_dir(inventory, name), ignore_errors=True)
        current["hosts"].pop(name, None)
        state.save(inventory, current)
        _write_known_hosts(inventory)
    running = sorted(h for h, r in current["hosts"].items() if host.running(r))
    progress(f"lab: {name} removed (machine, netns, veth, overlay); still running: {', '.join(running) or 'none'}")


def _forget_neighbour(inventory, address):
    if address and network.link_exists(names.bridge(inventory)):
        subprocess.run(["ip", "neigh", "del", address, "dev", names.bridge(inventory)], capture_output=True,
                       timeout=10)


def down(inventory, purge=False, progress=progress_to_stderr):
    """Remove every machine, netns, veth, mount and the bridge of the lab; --purge drops the base too."""
    with state.locked(inventory):
        current = state.load(inventory) or {"hosts": {}}
        saltmaster.stop(inventory, progress)  # the lab's salt-master, if one runs, dies with it
        for name in sorted(set(inventory.hosts) | set(current["hosts"])):
            _power_off(inventory, name, current["hosts"].get(name) or {})
        _remove_stray_netns(inventory)
        multicast.allow(inventory)
        network.delete_bridge(inventory)
        shutil.rmtree(names.lab_data_dir(inventory), ignore_errors=True)
        inotify.restore(current.get("inotify_before"), other_labs=network.other_lab_bridges(inventory))
        for path in (sshconfig.config_path(inventory), sshconfig.known_hosts_path(inventory)):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        state.remove(inventory)
    progress(f"lab: down ({names.bridge(inventory)} and its hosts removed)")
    if purge:
        _refuse_if_base_in_use()
        base.purge(progress)


def _remove_stray_netns(inventory):
    prefix = names.netns(inventory, "")
    with contextlib.suppress(FileNotFoundError):
        for ns in os.listdir(names.NETNS_DIR):
            if ns.startswith(prefix):
                subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def _refuse_if_base_in_use():
    with open("/proc/self/mountinfo") as f:
        if any(f"lowerdir={base.BASE_DIR}" in line for line in f):
            raise InputError("lab", f"the base {base.BASE_DIR} is still used by another lab: not purged")


def status(inventory):
    """{"bridge", "subnet", "hosts": {name: {"state", "address", "ssh"}}, "vip_holder"}."""
    current = state.load(inventory) or {"hosts": {}}
    lab_up = state.is_up(inventory)
    hosts = {}
    for name, spec in inventory.hosts.items():
        running = lab_up and host.running(current["hosts"].get(name)) and network.netns_exists(inventory, name)
        hosts[name] = {"state": "running" if running else "stopped", "address": spec.address, "ssh": False}
    probes = [name for name, h in hosts.items() if h["state"] == "running"]
    if probes:
        with ThreadPoolExecutor(max_workers=len(probes)) as pool:
            for name, answered in zip(probes, pool.map(lambda n: sshconfig.ssh_ok(inventory, n, timeout=3), probes)):
                hosts[name]["ssh"] = answered
    return {"bridge": names.bridge(inventory), "subnet": inventory.cluster["subnet"], "hosts": hosts,
            "vip_holder": _vip_holder(inventory, hosts), "multicast": current.get("multicast", "forwarded")}


def _vip_holder(inventory, hosts):
    vip = inventory.cluster["vip"]
    for lb in inventory.lbs():
        if hosts[lb.name]["state"] == "running" and vip in network.netns_addresses(inventory, lb.name):
            return lb.name
    return None
