"""file.restored: put one file back the way an earlier run found it (hafab's own, for `inv rollback`).

Not a Salt function, and not available to SLS files (`internal`): hafab.engine.rollback builds these
states from a run's record. Each one knows the file's path, where the run kept its old copy on the host
(RUNS_DIR/RUN_ID/files/N), the old and new sha256 and the old kind, mode and owner.

- A file the run replaced gets its old copy back: copied beside it with its mode and owner, validated
  by the check_cmd its state declares, then renamed over it (never half written, never invalid).
- A file the run created is removed (a directory only when empty); a file it removed comes back.
- A file that changed on the host since that run (drift) is refused by name, unless `force`.
"""

import os
import shlex

from hafab.engine.states.base import Outcome, Plan, StateFunction, command_failed, register
from hafab.engine.states.file import unified_diff
from hafab.engine.states.file_shell import check_line


def _backup(state):
    return state.prepared["backup"]


@register
class Restored(StateFunction):
    function = "file.restored"
    internal = True
    args = frozenset()

    def query(self, state, q):
        p = state.prepared
        q.want_file(p["path"], p.get("old_sha256") or None)
        if p["existed"]:
            q.want_file(_backup(state))

    def plan(self, state, facts):
        p = state.prepared
        now, kept = facts.files[p["path"]], facts.files.get(_backup(state))
        drift = _drift(p, now)
        if drift and not p.get("force"):
            return Plan(changes={"error": drift}, action="refuse",
                        comment=f"{p['path']} changed on the host since run {p['run_id']} ({drift}): refusing "
                                "to roll it back (--force puts the old one back anyway)")
        if not p["existed"]:
            if not now.exists:
                return Plan(comment=f"{p['path']} is absent, as before run {p['run_id']}")
            return Plan(changes={"removed": p["path"]}, action="remove",
                        comment=f"{p['path']} was created by run {p['run_id']}: it is set to be removed")
        if kept is None or not kept.exists:
            return Plan(changes={"error": "no kept copy"}, action="refuse",
                        comment=f"the copy of {p['path']} kept by run {p['run_id']} is missing on the host")
        changes = _changes(p, now, kept)
        if not changes:
            return Plan(comment=f"{p['path']} is as before run {p['run_id']}")
        return Plan(changes=changes, action="restore",
                    comment=f"{p['path']} is set to be put back as before run {p['run_id']}")

    def touched_paths(self, state, plan):
        return [state.prepared["path"]] if plan.action in ("restore", "remove") else []

    def restore_info(self, state):
        return {"check_argv": list(state.prepared.get("check_argv") or [])}

    def apply(self, state, plan, host):
        p = state.prepared
        if plan.action == "refuse":
            return Outcome(False, plan.comment)
        script = _remove_script(p) if plan.action == "remove" else _restore_script(p)
        result = host.run(script)
        if result.exit_status == 3:
            return Outcome(False, "check_cmd determined the kept content is invalid, the live file was left "
                                  "alone: " + " | ".join((result.stdout + result.stderr).strip().splitlines()[-4:]))
        if result.exit_status != 0:
            return Outcome(False, command_failed(result, f"restoring {p['path']}"))
        done = "Removed" if plan.action == "remove" else "Restored"
        return Outcome(True, f"{done} {p['path']} as before run {p['run_id']}", plan.changes)


def _drift(p, now):
    """Why the file is not what the run left (or "" when it is)."""
    if not p["exists_after"]:
        return "it exists again" if now.exists else ""
    if not now.exists:
        return "it was removed"
    if p.get("new_sha256") and now.sha256 != p["new_sha256"]:
        return f"sha256 {now.sha256[:12]}, the run left {p['new_sha256'][:12]}"
    return ""


def _changes(p, now, kept):
    changes = {}
    if not now.exists or (p.get("old_sha256") and now.sha256 != p["old_sha256"]):
        if p["kind"].startswith("regular") and not p.get("show_changes", True):
            changes["diff"] = "<show_changes=False>"   # the state that wrote it showed none (a secret file)
        elif p["kind"].startswith("regular"):
            changes["diff"] = unified_diff(now.content if now.exists else None, kept.content or "", p["path"])
        else:
            changes["restored"] = f"{p['kind']} {p['path']}"
    for key in ("user", "group", "mode"):
        if now.exists and getattr(now, key) != p[key]:
            changes[key] = p[key].zfill(4) if key == "mode" else p[key]
    return changes


def _restore_script(p):
    q = shlex.quote
    path, backup = q(p["path"]), q(p["backup"])
    directory = q(os.path.dirname(p["path"]) or "/")
    lines = ["set -e", "umask 077", f"mkdir -p -- {directory}",
             f"tmp={directory}/.hafab-restore-$$",
             "trap 'rm -rf -- \"$tmp\"' EXIT", "trap 'exit 130' INT TERM HUP PIPE",
             f"cp -a -- {backup} \"$tmp\""]
    if p.get("check_argv"):
        lines.append(check_line(p["check_argv"]))
    if not p["kind"].startswith("regular"):
        lines.append(f"rm -rf -- {path}")
    lines.append(f"mv -f -T -- \"$tmp\" {path}")
    return "\n".join(lines) + "\n"


def _remove_script(p):
    path = shlex.quote(p["path"])
    return f"if [ -d {path} ] && [ ! -L {path} ]; then rmdir -- {path}; else rm -f -- {path}; fi\n"
