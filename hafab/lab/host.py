"""One lab host: its overlay root, its identity, and its systemd-nspawn machine (boot and stop)."""

import contextlib
import os
import signal
import subprocess
import time
import uuid

from hafab.engine.errors import HostError
from hafab.lab import cgroups, names, procs
from hafab.lab.run import ok, run

STOP_TIMEOUT = 15  # clean halt of the host's systemd, then a power cut


def root_dir(inventory, host):
    return os.path.join(names.host_dir(inventory, host), "root")


def _is_mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def mount_overlay(inventory, host, base_dir):
    """Mount base (lower) + the host's upper dir at its root/; return root/."""
    top = names.host_dir(inventory, host)
    upper, work, root = (os.path.join(top, d) for d in ("upper", "work", "root"))
    for path in (upper, work, root):
        os.makedirs(path, exist_ok=True)
    if not _is_mounted(root):
        run(["mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir={base_dir},upperdir={upper},workdir={work}", root])
    return root


def unmount_overlay(inventory, host, timeout=5.0):
    root = root_dir(inventory, host)
    deadline = time.monotonic() + timeout
    while _is_mounted(root):
        if ok(["umount", root]) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if _is_mounted(root):
        raise HostError(f"lab: {host}: cannot unmount {root} (still busy)")


def give_identity(inventory, host, client_public_key):
    """Per-host machine-id and SSH host key (made once, kept in the upper dir), name and login key.

    Returns the host's public host key line ('ssh-ed25519 AAAA...').
    """
    root = root_dir(inventory, host)
    machine_id = os.path.join(root, "etc/machine-id")
    with open(machine_id) as f:
        if not f.read().strip():
            _write(machine_id, uuid.uuid4().hex + "\n")
    host_key = os.path.join(root, "etc/ssh/ssh_host_ed25519_key")
    if not os.path.exists(host_key):
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{host}", "-f", host_key])
    _write(os.path.join(root, "etc/hostname"), host + "\n")
    _write(os.path.join(root, "etc/hosts"), _hosts_file(inventory, host))
    ssh_dir = os.path.join(root, "root/.ssh")
    os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
    _write(os.path.join(ssh_dir, "authorized_keys"), client_public_key + "\n", mode=0o600)
    with open(host_key + ".pub") as f:
        return " ".join(f.read().split()[:2])


def _hosts_file(inventory, host):
    lines = ["127.0.0.1\tlocalhost", f"127.0.1.1\t{host}", "::1\tlocalhost ip6-localhost ip6-loopback", ""]
    lines += [f"{h.address}\t{h.name}" for h in inventory.hosts.values()]
    return "\n".join(lines) + "\n"


def _write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def boot(inventory, host):
    """Start the host's systemd-nspawn detached, from its own cgroups; return its process record."""
    root = root_dir(inventory, host)
    leaves = cgroups.make_leaves(names.cgroup_leaf(inventory, host))
    argv = ["systemd-nspawn", "-q", "-D", root, "-b", "-M", host,
            "--register=no", "--keep-unit", "--link-journal=no", "--resolv-conf=off", "--timezone=off",
            f"--network-namespace-path={names.netns_path(inventory, host)}",
            "--capability=CAP_NET_ADMIN", "--console=read-only"]
    # The launcher moves itself into the host's cgroups, then becomes nspawn (same pid).
    script = 'for d in $HAFAB_CGROUPS; do echo $$ > "$d/cgroup.procs"; done; exec "$@"'
    env = dict(os.environ, SYSTEMD_NSPAWN_API_VFS_WRITABLE="network", HAFAB_CGROUPS=" ".join(leaves))
    log = open(os.path.join(names.host_dir(inventory, host), "console.log"), "ab")
    with log:
        proc = subprocess.Popen(["sh", "-c", script, "sh", *argv], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, env=env, start_new_session=True, close_fds=True)
    started = procs.start_time(proc.pid)  # exec keeps the pid and its start time
    if started is None:
        raise HostError(f"lab: {host}: systemd-nspawn exited at once; see {log.name}")
    return {"pid": proc.pid, "started": started, "cgroups": leaves}


def running(record):
    return bool(record) and procs.alive(record.get("pid"), record.get("started"))


def halt(record, power_cut=False, timeout=STOP_TIMEOUT):
    """Stop the host: SIGTERM to nspawn halts its systemd cleanly; SIGKILL to the payload's PID 1
    is a power cut (SIGKILL to nspawn itself would orphan the machine). Then nothing may remain."""
    pid, started = record.get("pid"), record.get("started")
    if procs.alive(pid, started):
        if not power_cut:
            procs.signal_pid(pid, started, signal.SIGTERM)
        if power_cut or not procs.wait_gone(pid, started, timeout):
            for child in procs.children(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            procs.wait_gone(pid, started, 5)
    _kill_leftovers(record.get("cgroups") or [])
    cgroups.remove(record.get("cgroups") or [])


def _kill_leftovers(leaves, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = cgroups.pids(leaves)
        if not left:
            return
        procs.kill_all(left)
        time.sleep(0.05)
    if cgroups.pids(leaves):
        raise HostError(f"lab: processes {cgroups.pids(leaves)} would not stop")
