"""fs.inotify.max_user_instances: every host's systemd takes several, and the limit is shared by all of
root's processes, so other labs and programs count too. Out of instances, a host's systemd fails."""

import os

SYSCTL = "/proc/sys/fs/inotify/max_user_instances"
PER_HOST = 16
HEADROOM = 128


def current():
    with open(SYSCTL) as f:
        return int(f.read())


def _set(value):
    with open(SYSCTL, "w") as f:
        f.write(f"{value}\n")


def in_use():
    """inotify instances open on the machine now (all processes)."""
    count = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:inotify":
                        count += 1
                except OSError:
                    pass
        except OSError:
            pass
    return count


def raise_for(host_count):
    """Raise the limit when this lab needs more; return the value to restore later, or None."""
    before = current()
    needed = max(HEADROOM, in_use() + HEADROOM // 2) + PER_HOST * host_count
    if before >= needed:
        return None
    _set(needed)
    return before


def restore(before, other_labs=False):
    """Put the limit back, unless another lab still runs (it needs the raised limit)."""
    if before is not None and not other_labs:
        _set(before)
