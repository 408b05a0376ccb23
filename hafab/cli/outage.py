"""The `outage` and `drill` tasks (see hafab.outage and hafab.outage.drill)."""

from invoke import task

from hafab.cli.common import reports_errors, split_list
from hafab.engine import boundary
from hafab.engine.result import TaskResult

SSH_HELP = "ssh_config file for real hosts (default: the lab's .lab/ssh_config while it is up)."
INVENTORY_HELP = "Path of the inventory file (default: hosts.yaml)."


def _progress(message):
    boundary.say(message)


@task(
    auto_shortflags=False,
    help={
        "host": "Comma-separated hosts to break, e.g. web1 or hap1,hap2 (required).",
        "kind": "How to break them: service (systemctl stop apache2/haproxy; default), kill (SIGKILL its main "
                "process), hang (SIGSTOP it), host (power the host off: lab or Vagrant only), network (link down).",
        "duration": "Seconds the outage lasts before the restore (default 5).",
        "rate": "Requests per second sent to the VIP, each on a new connection with a 1 s timeout (default 200).",
        "json": "Print one JSON document on stdout (shape in docs/contract.md); progress goes to stderr.",
        "no-restore": "Leave the hosts broken afterwards (default: restore and wait until the cluster is healthy).",
        "ssh-config": SSH_HELP,
        "inventory": INVENTORY_HELP,
    },
)
@reports_errors
def outage(c, host=None, kind="service", duration=None, rate=None, json=False, no_restore=False, ssh_config=None,
           inventory="hosts.yaml"):
    """Break hosts on purpose under load on the VIP, judge the outcome against the seed's table, restore.

    Exit 0 when the expected outcome held (and the cluster is healthy again), 1 when not, 2 on bad input.
    """
    from hafab.outage import DEFAULT_DURATION, DEFAULT_RATE, run, text

    record = run(inventory, split_list(host), kind=kind, duration=duration or DEFAULT_DURATION,
                 rate=rate or DEFAULT_RATE, restore=not no_restore, ssh_config=ssh_config, progress=_progress)
    return TaskResult(bool(record.report["ok"]), record.report, text(record.report) + "\n")


@task(
    auto_shortflags=False,
    help={
        "json": "Print one JSON document on stdout: {\"ok\", \"scenarios\": [outage objects]}.",
        "plot": "Also draw one timeline per scenario into this PNG file (needs matplotlib).",
        "duration": "Seconds each outage lasts before its restore (default 5).",
        "rate": "Requests per second sent to the VIP during each scenario (default 200).",
        "ssh-config": SSH_HELP,
        "inventory": INVENTORY_HELP,
    },
)
@reports_errors
def drill(c, json=False, plot=None, duration=None, rate=None, ssh_config=None, inventory="hosts.yaml"):
    """Run the seed's outage table (each web, both webs, each LB, both LBs, the first LB powered off),
    restoring after each, and print one table. Exit 0 when every scenario held and was restored."""
    from hafab.outage import DEFAULT_DURATION, DEFAULT_RATE, drill_table, run_drill

    result, _ = run_drill(inventory, ssh_config=ssh_config, duration=duration or DEFAULT_DURATION,
                          rate=rate or DEFAULT_RATE, plot_path=plot, progress=_progress)
    return TaskResult(bool(result["ok"]), result, drill_table(result) + "\n")
