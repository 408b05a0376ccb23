"""Processes we started, identified by pid and start time so a reused pid is never signalled."""

import os
import signal
import time


def start_time(pid):
    """The kernel's start time of pid (field 22 of /proc/PID/stat), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie has already stopped
        return None
    return int(fields[19])


def _reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def alive(pid, started):
    """True while the process (pid, started) still runs."""
    if not pid:
        return False
    _reap(pid)
    return start_time(pid) == started


def signal_pid(pid, started, sig):
    """Send sig to pid only if it is still the process we started."""
    if alive(pid, started):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def wait_gone(pid, started, timeout):
    """Wait (at most timeout seconds) for the process to end; True when it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid, started):
            return True
        time.sleep(0.05)
    return not alive(pid, started)


def children(pid):
    """Direct children of pid."""
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids.extend(int(p) for p in f.read().split())
    except OSError:
        pass
    return kids


def kill_all(pids):
    """SIGKILL each pid of a list read from our own cgroups."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
