"""`inv rollback`: put back what one run changed, on every host it touched, in the rolling order.

Order of work: validate the flags and hosts.yaml, compile today's states (for the services that react to
the files), choose the target; read every chosen host's history (one round trip each, nothing changed);
pick the run (`--last`: the newest run of this cluster on any chosen host); then run the restore states
of each host that has that run through the same rollout as a provision (LBs one at a time, the VIP holder
last, web servers drained first), kept in the history as a run of its own (so it can be rolled back).
"""

from hafab.cluster import history as historylib
from hafab.cluster import inventory as inventorylib
from hafab.cluster import minions, reach
from hafab.cluster.provision import journal_settings, run_states
from hafab.engine import journal
from hafab.engine.errors import InputError
from hafab.engine.rollback import restore_states


def rollback(inventory_path="hosts.yaml", run=None, last=False, hosts=None, check=False, force=False,
             ssh_config=None, timeout=600, colour=False):
    """Roll back run `run` (or the last one); a TaskResult as provision's (exit 1 when a file is refused)."""
    _check_flags(run, last)
    inventory = inventorylib.load(inventory_path)
    chosen = inventory.select(hosts)
    current = minions.compile_hosts(inventory, chosen)
    config = reach.ssh_config_for(inventory, chosen, ssh_config)
    found = historylib.read([h.name for h in chosen], config)
    historylib.require_no_errors(found)
    run_id = run or _last_run(inventory, found)
    records = _records_of(inventory, found, run_id)
    compiled = {name: restore_states(record, current[name], force=force) for name, record in records.items()}
    settings = None if check else journal_settings(inventory, kind="rollback", rolls_back=run_id)
    return run_states(inventory, compiled, config, check=check, timeout=timeout, colour=colour, journal=settings,
                      what=f"rollback of {run_id}")


def _check_flags(run, last):
    if run and last:
        raise InputError("--run", "give --run ID or --last, not both")
    if not run and not last:
        raise InputError("--run", "say which run to roll back: --run ID (see `inv history`) or --last")
    if run and not journal.RUN_ID_RE.fullmatch(run):
        raise InputError("--run", f"{run!r} is not a run id (like 20261201T190512Z-1a2b3c; see `inv history`)")


def _label(inventory):
    return inventory.cluster["name"]


def _last_run(inventory, found):
    ids = [r["id"] for h in found.values() for r in h.runs if r.get("label") == _label(inventory)]
    if not ids:
        raise InputError("--last", f"no chosen host has a run of cluster {_label(inventory)!r} in its history")
    return max(ids)


def _records_of(inventory, found, run_id):
    """{host: record of run_id} for the hosts that have it; InputError when the run is unknown, of another
    cluster, or its record on some host is corrupt (then nothing is changed anywhere)."""
    for name, host in found.items():
        if run_id in host.problems:
            raise InputError(name, f"{host.problems[run_id]}: nothing was rolled back")
    records = {name: r for name, host in found.items() for r in host.runs if r["id"] == run_id}
    if not records:
        raise InputError("--run", f"no chosen host has run {run_id} in its history (see `inv history`)")
    for name, record in records.items():
        if record.get("label") != _label(inventory):
            raise InputError("--run", f"run {run_id} on {name} is a run of cluster {record.get('label')!r}, "
                                      f"not of {_label(inventory)!r}")
    return records
