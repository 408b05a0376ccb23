"""`inv provision`: validate and compile everything, choose the target, then apply over SSH."""

import sys
import time

from hafab import inventory as inventorylib
from hafab import output, runner, secrets, sls, target
from hafab.errors import InputError
from hafab.progress import Progress


def provision(inventory_path="hosts.yaml", hosts=None, roles=None, check=False, as_json=False,
              ssh_config=None, timeout=600, stream=None):
    """Run the top file's states on the chosen hosts; returns the exit code (0 ok, 1 failed on a host)."""
    started = time.monotonic()
    stream = stream or sys.stdout
    inventory = inventorylib.load(inventory_path)
    chosen = inventory.select(hosts, roles)
    if not chosen:
        raise InputError(inventory.where, "no host matches --hosts/--roles")
    compiled = sls.compile_all(inventory, [h.name for h in chosen], inventory.root)
    config = target.ssh_config_for(inventory, chosen, ssh_config)
    progress = Progress(len(compiled), "provision" + (" (check)" if check else ""))
    reports = runner.run_hosts(compiled, config, check=check, timeout=timeout, progress=progress.event)
    progress.done()
    duration = time.monotonic() - started
    for report in reports.values():
        report.results, report.error = secrets.redact(report.results), secrets.redact(report.error)
    if as_json:
        stream.write(output.as_json(reports, duration) + "\n")
    else:
        output.Highstate(stream).write(reports, duration, check=check)
    failed = output.summary(reports)["failed"] or any(r.error for r in reports.values())
    return 1 if failed else 0
