"""`inv history`: each host's runs, newest first, read in one SSH round trip per host.

Also the reading half of `inv rollback` (hafab.cluster.rollback). The records are those
hafab.engine.journal writes under /var/lib/hafab/runs/ on every host a run changed.
"""

import secrets as _random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from hafab.cluster import inventory as inventorylib
from hafab.cluster import reach
from hafab.engine import journal
from hafab.engine.errors import HafabError, InputError
from hafab.engine.facts import sections
from hafab.engine.result import TaskResult
from hafab.engine.transport import connect


@dataclass
class HostHistory:
    name: str
    runs: list = field(default_factory=list)       # good records, newest first
    problems: dict = field(default_factory=dict)   # run id -> why its record is not usable
    error: str = ""                                 # the host could not be read at all


def read(hosts, config):
    """{host name: HostHistory} of `hosts` (names), all in parallel, one round trip each."""
    with ThreadPoolExecutor(max_workers=max(1, min(len(hosts), 64))) as pool:
        found = dict(zip(hosts, pool.map(lambda name: _read_host(name, config), hosts)))
    return found


def _read_host(name, config):
    history = HostHistory(name)
    token = "@@hafab-history-" + _random.token_hex(6)
    try:
        remote = connect(name, config)
        try:
            result = remote.run(journal.history_script(token), timeout=60)
        finally:
            remote.close()
    except HafabError as exc:
        history.error = str(exc).removeprefix(f"{name}: ")
        return history
    if result.exit_status != 0:
        history.error = f"reading the run history failed (exit {result.exit_status})"
        return history
    for header, body in sections(result.stdout, token):
        kind, _, run_id = header.partition(" ")
        if kind != "record" or not journal.RUN_ID_RE.fullmatch(run_id):
            continue
        record, problem = journal.parse_record(run_id, body)
        if record is None:
            history.problems[run_id] = problem
        else:
            history.runs.append(record)
    return history


def history(inventory_path="hosts.yaml", hosts=None, ssh_config=None):
    """The runs of every chosen host; a TaskResult (not ok when a host could not be read)."""
    inventory = inventorylib.load(inventory_path)
    chosen = inventory.select(hosts)
    config = reach.ssh_config_for(inventory, chosen, ssh_config)
    found = read([h.name for h in chosen], config)
    document = {"hosts": {name: {"runs": [summary(r) for r in h.runs], "problems": h.problems}
                          for name, h in found.items() if not h.error},
                "errors": {name: h.error for name, h in found.items() if h.error}}
    return TaskResult(not document["errors"], document, text(found))


def summary(record):
    """A run as `inv history --json` shows it."""
    return {"id": record["id"], "kind": record.get("kind", "provision"), "rolls_back": record.get("rolls_back", ""),
            "cluster": record.get("label", ""), "started": record.get("started", ""), "who": record.get("who", ""),
            "states": list(record.get("states", [])),
            "files": [{"path": f["path"], "change": change_of(f), "old_sha256": f.get("old_sha256", ""),
                       "new_sha256": f.get("new_sha256", "")} for f in record.get("files", [])]}


def change_of(entry):
    if not entry.get("existed"):
        return "created"
    return "replaced" if entry.get("exists_after") else "removed"


def text(found):
    lines = []
    for name, host in found.items():
        lines.append(f"{name}:")
        if host.error:
            lines.append(f"    Error: {host.error}")
            continue
        if not host.runs and not host.problems:
            lines.append("    no runs in its history")
        for record in host.runs:
            lines += _run_lines(record)
        for run_id, problem in sorted(host.problems.items(), reverse=True):
            lines.append(f"  {run_id}  unusable: {problem}")
    return "\n".join(lines) + "\n"


def _run_lines(record):
    kind = record.get("kind", "provision")
    if record.get("rolls_back"):
        kind += f" of {record['rolls_back']}"
    states = record.get("states", [])
    head = (f"  {record['id']}  {_when(record.get('started', ''))}  {record.get('who', '?')}  {kind}  "
            f"{len(states)} state{'s' if len(states) != 1 else ''} changed")
    lines = [head]
    for entry in record.get("files", []):
        old, new = entry.get("old_sha256", "")[:12] or "-", entry.get("new_sha256", "")[:12] or "-"
        lines.append(f"      {change_of(entry):<8} {entry['path']}  ({old} -> {new})")
    return lines


def _when(iso):
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return iso or "?"


def require_no_errors(found):
    """Rollback reads before it changes anything: a host it cannot read stops it (exit 1, nothing changed)."""
    errors = {name: h.error for name, h in found.items() if h.error}
    if errors:
        name, error = next(iter(errors.items()))
        raise HafabError(f"{name}: cannot read its run history ({error}); nothing was rolled back")
