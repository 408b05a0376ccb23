"""Run history on each host: what a run changed, and the old files it replaced, kept for rollback.

Before a state replaces, creates or removes a file, the file's old content, kind, mode and owner are
kept on its host under RUNS_DIR/RUN_ID/files/ (outside every include directory); when the host's run
ends, RUNS_DIR/RUN_ID/record.json says who ran it, when, which states changed and each file's old and
new sha256, and the oldest runs beyond `keep` are pruned. A run that changes nothing writes nothing and
costs nothing: every command here runs only once a state has something to change.

The record carries a digest of its own content, so a record edited by hand is told from a good one.
"""

import hashlib
import json
import os
import re
import secrets
import shlex
import time
from dataclasses import dataclass, field

RUNS_DIR = "/var/lib/hafab/runs"   # on each host; HAFAB_RUNS_DIR (an absolute path) moves it, e.g. for tests
RECORD = "record.json"
FORMAT = 1
RUN_ID_RE = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}")  # also an ERE for grep on the host
DEFAULT_KEEP = 10


def new_run_id(now=None):
    """A run id that sorts by time: 20261201T190512Z-1a2b3c (UTC)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + "-" + secrets.token_hex(3)


def runs_dir():
    """Where each host keeps its history: RUNS_DIR, or $HAFAB_RUNS_DIR when that is an absolute path."""
    chosen = os.environ.get("HAFAB_RUNS_DIR", "")
    return os.path.normpath(chosen) if chosen.startswith("/") and chosen != "/" else RUNS_DIR


def run_dir(run_id):
    return f"{runs_dir()}/{run_id}"


@dataclass
class JournalSettings:
    """The same for every host of one run."""

    run_id: str
    who: str                      # user@machine that ran it
    label: str = ""               # whose runs these are (e.g. the cluster's name)
    keep: int = DEFAULT_KEEP      # runs kept per host, this one included
    kind: str = "provision"       # "provision" or "rollback"
    rolls_back: str = ""          # for a rollback: the run it restored
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def digest(record):
    """sha256 of the record's canonical JSON without its digest."""
    body = {k: v for k, v in record.items() if k != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class HostJournal:
    """The history of one host's run: keep() before a change, changed() after it, finish() at the end."""

    def __init__(self, settings, remote_run):
        self.settings = settings
        self.run = remote_run          # run(script, stdin=b"", timeout=...) -> ExecResult
        self.entries = {}              # path -> entry (see keep())
        self.changed_states = []       # state keys that changed, in run order

    def keep(self, state_key, paths, info=None):
        """Keep the current content and metadata of `paths` (those not kept yet in this run) before
        state `state_key` changes them; "" when done, else why not (then the state must not change)."""
        fresh = [p for p in dict.fromkeys(paths) if p not in self.entries]
        if not fresh:
            return ""
        first = len(self.entries)
        result = self.run(_keep_script(self.settings.run_id, fresh, first), timeout=300)
        if result.exit_status != 0:
            return (result.stderr.strip() or result.stdout.strip() or f"exit {result.exit_status}").splitlines()[-1]
        found = _parse_kept(result.stdout)
        for number, path in enumerate(fresh, first):
            entry = {"path": path, "state": state_key, "backup": f"files/{number}", **(info or {})}
            entry.update(found.get(str(number), {"existed": False}))
            self.entries[path] = entry
        return ""

    def changed(self, state_key):
        if state_key not in self.changed_states:
            self.changed_states.append(state_key)

    def finish(self):
        """Write the record of a run that changed something, and prune old runs; "" or why it failed."""
        if not self.changed_states:
            return ""
        after = self._after()
        entries = []
        for path, entry in self.entries.items():
            entries.append({**entry, "new_sha256": after.get(path, {}).get("sha256", ""),
                            "exists_after": after.get(path, {}).get("exists", False)})
        s = self.settings
        record = {"format": FORMAT, "id": s.run_id, "label": s.label, "kind": s.kind, "rolls_back": s.rolls_back,
                  "started": s.started, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "who": s.who, "states": list(self.changed_states), "files": entries}
        record["digest"] = digest(record)
        data = (json.dumps(record, indent=1, sort_keys=True) + "\n").encode()
        result = self.run(_record_script(s.run_id, s.keep), stdin=data, timeout=60)
        if result.exit_status != 0:
            return (result.stderr.strip() or f"exit {result.exit_status}").splitlines()[-1]
        return ""

    def _after(self):
        if not self.entries:
            return {}
        paths = list(self.entries)
        lines = []
        for number, path in enumerate(paths):
            p = shlex.quote(path)
            lines.append(f"if [ -f {p} ] && [ ! -L {p} ]; then printf '%s\\t1\\t%s\\n' {number} "
                         f"\"$(sha256sum < {p} | cut -d' ' -f1)\"; elif [ -e {p} ]; then "
                         f"printf '%s\\t1\\t-\\n' {number}; else printf '%s\\t0\\t-\\n' {number}; fi")
        result = self.run("\n".join(lines) + "\n", timeout=120)
        after = {}
        for line in result.stdout.splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[0].isdigit() and int(parts[0]) < len(paths):
                sha = parts[2] if parts[2] != "-" else ""
                after[paths[int(parts[0])]] = {"exists": parts[1] == "1", "sha256": sha}
        return after


def _keep_script(run_id, paths, first):
    d = shlex.quote(run_dir(run_id))
    lines = ["set -e", "umask 077", f"mkdir -p -- {d}/files"]
    for number, path in enumerate(paths, first):
        p = shlex.quote(path)
        lines.append(f"if [ -e {p} ] || [ -L {p} ]; then "
                     f"printf '%s\\t%s\\t' {number} \"$(stat -c '%F\t%U\t%G\t%a' -- {p})\"; "
                     f"if [ -f {p} ] && [ ! -L {p} ]; then sha256sum < {p} | cut -d' ' -f1; else echo -; fi; "
                     f"cp -a -- {p} {d}/files/{number}; fi")
    return "\n".join(lines) + "\n"


def _parse_kept(output):
    found = {}
    for line in output.splitlines():
        parts = line.split("\t")
        if len(parts) == 6 and parts[0].isdigit():
            number, kind, user, group, mode, sha = parts
            found[number] = {"existed": True, "kind": kind, "user": user, "group": group, "mode": mode,
                             "old_sha256": "" if sha == "-" else sha}
    return found


def _record_script(run_id, keep):
    d = shlex.quote(run_dir(run_id))
    runs = shlex.quote(runs_dir())
    return "\n".join([
        "set -e", "umask 077", f"mkdir -p -- {d}",
        f"cat > {d}/.{RECORD}.tmp", f"mv -f -- {d}/.{RECORD}.tmp {d}/{RECORD}",
        # the newest `keep` runs stay; ids sort by time
        f"ls -1 -- {runs} | grep -E '^{RUN_ID_RE.pattern}$' | sort -r | tail -n +{int(keep) + 1} | "
        f"while read -r old; do rm -rf -- {runs}/\"$old\"; done",
    ]) + "\n"


def history_script(token):
    """Sh script printing every record of the host, each after a marker line 'TOKEN record RUN_ID'."""
    runs = shlex.quote(runs_dir())
    return (f"[ -d {runs} ] || exit 0\n"
            f"ls -1 -- {runs} | grep -E '^{RUN_ID_RE.pattern}$' | sort -r | while read -r id; do "
            f"printf '\\n%s record %s\\n' {shlex.quote(token)} \"$id\"; "
            f"head -c 1048576 -- {runs}/\"$id\"/{RECORD} 2>/dev/null || true; done\n")


def parse_record(run_id, text):
    """(record, "") for a good record of run `run_id`, or (None, why it is not one)."""
    try:
        record = json.loads(text)
    except ValueError:
        return None, f"run {run_id}: the record is not valid JSON"
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        return None, f"run {run_id}: the record is not one hafab wrote (format {FORMAT})"
    if record.get("digest") != digest(record):
        return None, f"run {run_id}: the record was changed after hafab wrote it (its digest does not match)"
    if record.get("id") != run_id or not isinstance(record.get("files"), list):
        return None, f"run {run_id}: the record names run {record.get('id')!r}"
    return record, ""
