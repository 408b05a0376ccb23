"""The `verify` task."""

import sys

from invoke import task

from hafab.cli.common import reports_errors
from hafab.engine.errors import InputError
from hafab.engine.result import TaskResult


@task(
    auto_shortflags=False,
    help={
        "json": 'Print exactly one JSON document on stdout: {"ok": bool, "checks": [{name, host, ok, detail}]}.',
        "requests": "Requests sent through the VIP to judge round-robin (default 20, 2..1000).",
        "ssh-config": "ssh_config file for real hosts (default: the lab's .lab/ssh_config while it is up).",
        "inventory": "Path of the inventory file (default: hosts.yaml).",
        "settle": "Seconds to wait first for the VIP to serve every web server, e.g. right after a "
                  "provision (default 0: judge the cluster as it is now).",
    },
)
@reports_errors
def verify(c, json=False, requests=None, ssh_config=None, inventory="hosts.yaml", settle=None):
    """Prove from outside that the cluster works: SSH, services, pages, round-robin, VIP, stats, logs.

    Exit 0 when every check passed, 1 when any failed, 2 on bad input or when the lab is not up
    (nothing is sent then).
    """
    from hafab.verify import table, verify as run_verify  # the engine loads only when a task runs

    report = run_verify(inventory, requests=_count(requests), ssh_config=ssh_config, settle=_seconds(settle))
    return TaskResult(report.ok, report.as_dict(), table(report, colour=sys.stdout.isatty()), json_indent=2)


def _count(value):
    """--requests as an int (default 20); a non-number stays as given: verify() rejects it (exit 2)."""
    if value is None:
        return 20
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _seconds(value):
    """--settle as a number of seconds, 0..300; anything else is bad input (exit 2)."""
    try:
        seconds = float(value or 0)
    except (TypeError, ValueError):
        seconds = -1
    if not 0 <= seconds <= 300:
        raise InputError("--settle", f"{value!r} must be a number of seconds from 0 to 300")
    return seconds
