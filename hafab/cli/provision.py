"""The `provision` task."""

import sys

from invoke import task

from hafab.cli.common import names_flag, number_flag, path_flag, reports_errors

MAX_TIMEOUT = 86400  # seconds: a day


@task(
    auto_shortflags=False,
    optional=["hosts", "roles", "ssh_config", "inventory", "timeout"],  # a missing value is exit 2 (cli.common)
    help={
        "hosts": "Comma-separated host names to provision (default: every host in hosts.yaml).",
        "roles": "Comma-separated roles: only hosts with one of them (e.g. lb).",
        "check": "Change nothing; report what would change, with diffs (Salt's test=True).",
        "json": "Print one JSON document on stdout (progress still goes to stderr).",
        "ssh-config": "ssh_config file for real hosts (default: the lab's .lab/ssh_config while it is up).",
        "inventory": "Path of the inventory file (default: hosts.yaml).",
        "timeout": "Seconds one host may take in all before it is reported as failed (default 600, 1..86400).",
        "detailed-exitcode": "With --check: exit 3 when something would change, 0 when nothing would "
                             "(1 and 2 as always): drift as an exit code, for monitoring.",
    },
)
@reports_errors
def provision(c, hosts=None, roles=None, check=False, json=False, ssh_config=None, inventory="hosts.yaml",
              timeout=None, detailed_exitcode=False):
    """Apply states/top.sls to the hosts: changes only what differs, reports like Salt's highstate."""
    from hafab.cluster.inventory import HOSTNAME_RE, ROLE_RE
    from hafab.cluster.provision import provision as run_provision  # the engine loads only when a task runs

    return run_provision(path_flag("--inventory", inventory),
                         hosts=names_flag("--hosts", hosts, HOSTNAME_RE, "host name"),
                         roles=names_flag("--roles", roles, ROLE_RE, "role name"), check=check,
                         ssh_config=path_flag("--ssh-config", ssh_config),
                         timeout=number_flag("--timeout", timeout, 1, MAX_TIMEOUT, 600), colour=sys.stdout.isatty(),
                         detailed_exitcode=detailed_exitcode)
