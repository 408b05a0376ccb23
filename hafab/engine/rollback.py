"""The states that undo one run on one host, from that run's record (hafab.engine.journal).

Each file the run replaced, created or removed becomes a `file.restored` state (hafab/engine/states/restore.py).
Then come the host's current states that react to those files, exactly as in a provision: a state whose
`watch` or `onchanges` named the state that changed the file now names the restore of that file, so a
service that reloads on its config reloads when the config is put back (and only then), a
`systemctl daemon-reload` that follows a unit drop-in runs again, and so on. Nothing else runs.
"""

import copy

from hafab.engine.journal import run_dir
from hafab.engine.model import State

SLS = "rollback"


def restore_states(record, current, force=False):
    """[State] that roll back `record` on its host; `current` is the host's compiled [State] today."""
    restores, renamed = [], {}
    for entry in record["files"]:
        state = _restore_state(record, entry, force)
        restores.append(state)
        renamed.setdefault(entry["state"], []).append(state.key)
    reacting = []
    for state in current:
        watch = _renamed(state.watch, renamed)
        onchanges = _renamed(state.onchanges, renamed)
        if watch or onchanges:
            again = copy.copy(state)
            again.watch, again.onchanges, again.require = watch, onchanges, []
            reacting.append(again)
    return restores + reacting


def _renamed(keys, renamed):
    return [new for key in keys for new in renamed.get(key, [])]


def _restore_state(record, entry, force):
    path = entry["path"]
    prepared = {
        "path": path, "run_id": record["id"], "backup": f"{run_dir(record['id'])}/{entry['backup']}",
        "existed": bool(entry.get("existed")), "kind": entry.get("kind", ""), "mode": entry.get("mode", ""),
        "user": entry.get("user", ""), "group": entry.get("group", ""),
        "old_sha256": entry.get("old_sha256", ""), "new_sha256": entry.get("new_sha256", ""),
        "exists_after": bool(entry.get("exists_after")), "check_argv": list(entry.get("check_argv") or []),
        "force": force, "show_changes": entry.get("show_changes", True),
    }
    return State(id=f"rollback {path}", name=path, module="file", fun="restored", args={}, sls=SLS,
                 file=f"run {record['id']}", prepared=prepared)
