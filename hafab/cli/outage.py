"""The `outage` and `drill` tasks (see hafab.outage and hafab.outage.drill)."""

from invoke import task

from hafab.cli.common import hostname_re as _hostname_re, names_flag, number_flag, path_flag, reports_errors, text_flag
from hafab.engine import boundary
from hafab.engine.result import TaskResult

SSH_HELP = "ssh_config file for real hosts (default: the lab's .lab/ssh_config while it is up)."
INVENTORY_HELP = "Path of the inventory file (default: hosts.yaml)."


def _progress(message):
    boundary.say(message)


def _duration_and_rate(duration, rate):
    """--duration and --rate, checked (exit 2): the outage module's bounds and defaults."""
    from hafab.outage import DEFAULT_DURATION, DEFAULT_RATE
    from hafab.outage.load import MAX_RATE
    from hafab.outage.scenario import MAX_DURATION, MIN_DURATION

    return (number_flag("--duration", duration, MIN_DURATION, MAX_DURATION, DEFAULT_DURATION),
            number_flag("--rate", rate, 1, MAX_RATE, DEFAULT_RATE, unit="requests per second"))


@task(
    auto_shortflags=False,
    optional=["host", "kind", "duration", "rate", "ssh_config", "inventory"],  # a missing value: exit 2
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
    from hafab.outage import KINDS, run, text

    duration, rate = _duration_and_rate(duration, rate)
    kind = text_flag("--kind", kind, "service", f"one of {', '.join(KINDS)}")
    record = run(path_flag("--inventory", inventory), names_flag("--host", host, _hostname_re(), "host name"),
                 kind=kind, duration=duration, rate=rate, restore=not no_restore,
                 ssh_config=path_flag("--ssh-config", ssh_config), progress=_progress)
    return TaskResult(bool(record.report["ok"]), record.report, text(record.report) + "\n")


@task(
    auto_shortflags=False,
    optional=["plot", "duration", "rate", "ssh_config", "inventory"],  # a missing value: exit 2 (cli.common)
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
    from hafab.outage import drill_table, run_drill

    duration, rate = _duration_and_rate(duration, rate)
    result, _ = run_drill(path_flag("--inventory", inventory), ssh_config=path_flag("--ssh-config", ssh_config),
                          duration=duration, rate=rate, plot_path=path_flag("--plot", plot), progress=_progress)
    return TaskResult(bool(result["ok"]), result, drill_table(result) + "\n")
