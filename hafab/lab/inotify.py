"""fs.inotify.max_user_instances: every host's systemd takes several; 128 runs out near 32 hosts."""

SYSCTL = "/proc/sys/fs/inotify/max_user_instances"
PER_HOST = 16
HEADROOM = 128


def current():
    with open(SYSCTL) as f:
        return int(f.read())


def _set(value):
    with open(SYSCTL, "w") as f:
        f.write(f"{value}\n")


def raise_for(host_count):
    """Raise the limit when the lab needs more; return the value to restore later, or None."""
    before, needed = current(), HEADROOM + PER_HOST * host_count
    if before >= needed:
        return None
    _set(needed)
    return before


def restore(before):
    if before is not None:
        _set(before)
