"""The lab's SSH client side: its key, a lab-only known_hosts and `.lab/ssh_config`."""

import os
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from hafab.engine import atomicfile
from hafab.lab import netguard
from hafab.lab import names
from hafab.lab.run import run

KEY_NAME = "id_ed25519"


def key_path(inventory):
    return os.path.join(names.lab_dir(inventory), KEY_NAME)


def config_path(inventory):
    return os.path.join(names.lab_dir(inventory), "ssh_config")


def known_hosts_path(inventory):
    return os.path.join(names.lab_dir(inventory), "known_hosts")


def ensure_key(inventory):
    """Create the lab's client key once; return its public key line."""
    path = key_path(inventory)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hafab-lab", "-f", path])
    with open(path + ".pub") as f:
        return f.read().strip()


def write_config(inventory):
    lines = ["# Made by `inv lab.up`: the lab's hosts, reached only with the lab's own key and known_hosts.", ""]
    for host in inventory.hosts.values():
        lines += [f"Host {host.name}",
                  f"    HostName {host.address}",
                  "    User root",
                  f"    IdentityFile {key_path(inventory)}",
                  "    IdentitiesOnly yes",
                  f"    UserKnownHostsFile {known_hosts_path(inventory)}",
                  "    GlobalKnownHostsFile /dev/null",
                  "    StrictHostKeyChecking yes",
                  "    ConnectTimeout 5",
                  "    LogLevel ERROR",
                  ""]
    _write(config_path(inventory), "\n".join(lines))


def write_known_hosts(inventory, host_keys):
    """host_keys: {host name: 'ssh-ed25519 AAAA...'}; each line names the host and its address."""
    lines = [f"{name},{inventory.hosts[name].address} {key}" for name, key in sorted(host_keys.items())
             if name in inventory.hosts]
    _write(known_hosts_path(inventory), "\n".join(lines) + "\n")


def _write(path, text):
    atomicfile.write(path, text.encode(), 0o600)


def port_open(address, bridge, port=22, timeout=0.5):
    netguard.require_lab_route(address, bridge)
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def ssh_ok(inventory, host, timeout=5):
    """True when `ssh -F .lab/ssh_config HOST true` succeeds (after the route check)."""
    netguard.require_lab_route(inventory.hosts[host].address, names.bridge(inventory))
    argv = ["ssh", "-F", config_path(inventory), "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={timeout}", host, "true"]
    try:
        return subprocess.run(argv, capture_output=True, timeout=timeout + 5,
                              stdin=subprocess.DEVNULL).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def wait_ssh(inventory, hosts, timeout=60):
    """Wait (bounded) until every host answers SSH; return the hosts that never did."""
    bridge = names.bridge(inventory)
    pending = list(hosts)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        pending = [h for h in pending if not port_open(inventory.hosts[h].address, bridge)]
        if pending:
            time.sleep(0.1)
    answering = [h for h in hosts if h not in pending]
    if answering:  # the port is open; now a real login, all hosts at once
        with ThreadPoolExecutor(max_workers=min(32, len(answering))) as pool:
            logins = list(pool.map(lambda h: ssh_ok(inventory, h), answering))
        pending += [h for h, ok in zip(answering, logins) if not ok]
    return pending
