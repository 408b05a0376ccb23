"""The `history` and `rollback` tasks (see hafab.cluster.history and hafab.cluster.rollback)."""

import sys

from invoke import task

from hafab.cli.common import hostname_re as _hostname_re, names_flag, number_flag, path_flag, reports_errors, text_flag

SSH_HELP = "ssh_config file for real hosts (default: the lab's .lab/ssh_config while it is up)."
INVENTORY_HELP = "Path of the inventory file (default: hosts.yaml)."


@task(auto_shortflags=False, optional=["hosts", "ssh_config", "inventory"], help={
    "hosts": "Comma-separated host names (default: every host in hosts.yaml).",
    "json": 'Print one JSON document on stdout: {"hosts": {HOST: {"runs": [...], "problems": {...}}}, "errors": {...}}.',
    "ssh-config": SSH_HELP,
    "inventory": INVENTORY_HELP,
})
@reports_errors
def history(c, hosts=None, json=False, ssh_config=None, inventory="hosts.yaml"):
    """Show each host's runs, newest first: id, when, who, what changed (one SSH round trip per host)."""
    from hafab.cluster.history import history as run_history

    return run_history(path_flag("--inventory", inventory), hosts=names_flag("--hosts", hosts, _hostname_re(), "host name"),
                       ssh_config=path_flag("--ssh-config", ssh_config))


@task(auto_shortflags=False, optional=["run", "hosts", "timeout", "ssh_config", "inventory"], help={
    "run": "The id of the run to undo (see `inv history`).",
    "last": "Undo the newest run of this cluster on the chosen hosts.",
    "hosts": "Comma-separated host names (default: every host that has the run).",
    "check": "Change nothing; show the diffs the rollback would apply.",
    "force": "Also put back files that changed on a host since that run (they are refused otherwise).",
    "json": "Print one JSON document on stdout (provision's shape); progress goes to stderr.",
    "timeout": "Seconds one host may take in all before it is reported as failed (default 600, 1..86400).",
    "ssh-config": SSH_HELP,
    "inventory": INVENTORY_HELP,
})
@reports_errors
def rollback(c, run=None, last=False, hosts=None, check=False, force=False, json=False, timeout=None,
             ssh_config=None, inventory="hosts.yaml"):
    """Put back what one run changed, on every host it touched, in the same rolling order as a provision:
    old content, mode and owner, validated first; created files removed; services reloaded. The rollback is
    itself a run in the history. Exit 1 when a file changed on its host since that run (unless --force)."""
    from hafab.cluster.rollback import rollback as run_rollback

    return run_rollback(path_flag("--inventory", inventory), run=text_flag("--run", run, None, "a run id"), last=last,
                        hosts=names_flag("--hosts", hosts, _hostname_re(), "host name"), check=check, force=force,
                        ssh_config=path_flag("--ssh-config", ssh_config),
                        timeout=number_flag("--timeout", timeout, 1, 86400, 600), colour=sys.stdout.isatty())
