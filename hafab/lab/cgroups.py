"""One cgroup per lab host, in every mounted hierarchy.

On a machine whose PID 1 is not systemd, `systemd-nspawn --keep-unit` puts its payload and supervisor
under the caller's cgroup: hosts started from one process would share them. Each host is therefore
launched from its own leaf (under the caller's cgroup in each hierarchy), which also lets us find and
stop every process of a host by pid.
"""

import contextlib
import os
import time


def _mounts():
    """[(set of mount options, mount point)] of cgroup v1 mounts, and the cgroup2 mount point."""
    v1, v2 = [], None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            fstype, _, options = right.split()[:3]
            mount_point = left.split()[4]
            if fstype == "cgroup2":
                v2 = mount_point
            elif fstype == "cgroup":
                v1.append((set(options.split(",")), mount_point))
    return v1, v2


def _hierarchies():
    """[(mount point, this process's cgroup path)] for every hierarchy we belong to."""
    v1, v2 = _mounts()
    found = []
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, key, path = line.rstrip("\n").split(":", 2)
            if not key:
                if v2:
                    found.append((v2, path))
                continue
            wanted = set(key.split(","))
            for options, mount_point in v1:
                if wanted <= options:
                    found.append((mount_point, path))
                    break
    return found


def make_leaves(leaf):
    """Create the leaf under our cgroup in every hierarchy; return the leaf directories."""
    dirs = []
    for mount_point, own in _hierarchies():
        parent = os.path.join(mount_point, own.lstrip("/"))
        path = os.path.join(parent, leaf)
        os.makedirs(path, exist_ok=True)
        if os.path.exists(os.path.join(path, "cpuset.cpus")):
            _inherit_cpuset(parent, path)
        dirs.append(path)
    return dirs


def _inherit_cpuset(parent, path):
    for name in ("cpuset.cpus", "cpuset.mems"):
        with open(os.path.join(path, name)) as f:
            if f.read().strip():
                continue
        with open(os.path.join(parent, name)) as f:
            value = f.read().strip()
        with open(os.path.join(path, name), "w") as f:
            f.write(value)


def pids(dirs):
    """Every pid in these cgroups and their descendants."""
    found = set()
    for top in dirs:
        for dirpath, _, _ in os.walk(top):
            with contextlib.suppress(OSError), open(os.path.join(dirpath, "cgroup.procs")) as f:
                found.update(int(p) for p in f.read().split())
    return sorted(found)


def remove(dirs, timeout=5.0):
    """rmdir the leaves, deepest first; a cgroup still emptying gets a moment (bounded)."""
    deadline = time.monotonic() + timeout
    for top in dirs:
        if not os.path.isdir(top):
            continue
        subdirs = sorted((d for d, _, _ in os.walk(top)), key=len, reverse=True)
        for path in subdirs:
            while True:
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.05)


def memory_bytes(dirs):
    """memory.usage_in_bytes (v1) or memory.current (v2) of the host's leaf, when available."""
    for top in dirs:
        for name in ("memory.usage_in_bytes", "memory.current"):
            with contextlib.suppress(OSError), open(os.path.join(top, name)) as f:
                return int(f.read())
    return None
