"""The lab's state file `.lab/state.json`, and a lock so two lab commands never interleave.

Shape: {"subnet", "bridge", "inotify_before": int|null, "hosts": {name: {"pid", "started", "cgroups", "address"}}}
"""

import contextlib
import fcntl
import json
import os

from hafab.engine import atomicfile, readfile
from hafab.engine.errors import InputError
from hafab.lab import names, network

STATE_LIMIT = 1024 * 1024  # bytes


def load(inventory):
    """The state, or None when the lab was never brought up (or was taken down)."""
    path = names.state_path(inventory)
    if not os.path.lexists(path):
        return None
    where = os.path.relpath(path, inventory.root)
    try:
        return json.loads(readfile.read_text(path, where, limit=STATE_LIMIT))
    except json.JSONDecodeError as exc:
        raise InputError(where, f"is not valid JSON (line {exc.lineno}): the lab's state is unknown") from None


def is_up(inventory):
    """The lab's state file is present and its bridge exists."""
    return load(inventory) is not None and network.link_exists(names.bridge(inventory))


def save(inventory, state):
    path = names.state_path(inventory)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    atomicfile.write(path, json.dumps(state, indent=1, sort_keys=True).encode(), 0o600)


def remove(inventory):
    with contextlib.suppress(FileNotFoundError):
        os.remove(names.state_path(inventory))


@contextlib.contextmanager
def locked(inventory):
    os.makedirs(names.lab_dir(inventory), mode=0o700, exist_ok=True)
    with open(os.path.join(names.lab_dir(inventory), "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
