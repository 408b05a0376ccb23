"""The `verify` task."""

import sys

from invoke import task

from hafab.cli.common import number_flag, path_flag, reports_errors
from hafab.engine.errors import HafabError
from hafab.engine.result import TaskResult

MAX_SETTLE = 300  # seconds


@task(
    auto_shortflags=False,
    optional=["requests", "ssh_config", "inventory", "settle", "junit"],  # a missing value is exit 2 (cli.common)
    help={
        "json": 'Print exactly one JSON document on stdout: {"ok": bool, "checks": [{name, host, ok, detail}]}.',
        "requests": "Requests sent through the VIP to judge round-robin (default 20, 2..1000).",
        "ssh-config": "ssh_config file for real hosts (default: the lab's .lab/ssh_config while it is up).",
        "inventory": "Path of the inventory file (default: hosts.yaml).",
        "junit": "Also write the checks as JUnit XML to this file (one test case per check; written "
                 "atomically; its directory must exist and be writable). Combines with --json.",
        "settle": "Seconds to wait first for the VIP to serve every web server, e.g. right after a "
                  "provision (default 0: judge the cluster as it is now; at most 300).",
    },
)
@reports_errors
def verify(c, json=False, requests=None, ssh_config=None, inventory="hosts.yaml", settle=None, junit=None):
    """Prove from outside that the cluster works: SSH, services, pages, round-robin, VIP, stats, logs.

    Exit 0 when every check passed, 1 when any failed, 2 on bad input or when the lab is not up
    (nothing is sent then).
    """
    from hafab.verify import junit as junitlib, probes, table, verify as run_verify  # loaded when a task runs

    requests = number_flag("--requests", requests, 2, probes.MAX_REQUESTS, 20, unit="requests", whole=True)
    settle = number_flag("--settle", settle, 0, MAX_SETTLE, 0.0)
    junit = path_flag("--junit", junit)
    if junit is not None:
        junitlib.check_target("--junit", junit)
    report = run_verify(path_flag("--inventory", inventory), requests=requests,
                        ssh_config=path_flag("--ssh-config", ssh_config), settle=settle)
    result = TaskResult(report.ok, report.as_dict(), table(report, colour=sys.stdout.isatty()), json_indent=2)
    if junit is not None:
        try:
            junitlib.write(report, junit)
        except OSError as exc:   # e.g. the disk filled up: the report is still shown, then this line
            error = HafabError(f"--junit: cannot write {junit!r}: {exc.strerror or exc}")
            error.result = result
            raise error from None
    return result
