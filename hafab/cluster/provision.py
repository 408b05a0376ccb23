"""`inv provision`: validate and compile everything, choose the target, then apply over SSH."""

import contextlib
import signal
import sys
import threading
import time

from hafab.cluster import inventory as inventorylib
from hafab.cluster import minions, secrets, target
from hafab.engine import output, runner
from hafab.engine.errors import InputError
from hafab.engine.progress import Progress
from hafab.cluster.rollout import Rollout
from hafab.engine.hooks import NO_HOOKS


def provision(inventory_path="hosts.yaml", hosts=None, roles=None, check=False, as_json=False,
              ssh_config=None, timeout=600, stream=None):
    """Run the top file's states on the chosen hosts; returns the exit code (0 ok, 1 failed on a host)."""
    started = time.monotonic()
    stream = stream or sys.stdout
    inventory = inventorylib.load(inventory_path)
    chosen = inventory.select(hosts, roles)
    if not chosen:
        raise InputError(inventory.where, "no host matches --hosts/--roles")
    compiled = minions.compile_hosts(inventory, chosen)
    config = target.ssh_config_for(inventory, chosen, ssh_config)
    progress = Progress(len(compiled), "provision" + (" (check)" if check else ""))
    rollout = None if check else Rollout(inventory, compiled, config, progress.event, timeout)
    with sigterm_as_interrupt():
        try:
            reports = runner.run_hosts(compiled, config, check=check, timeout=timeout, progress=progress.event,
                                       hooks=rollout or NO_HOOKS)
        except runner.Interrupted as exc:
            progress.done()
            _report(exc.reports, time.monotonic() - started, check, as_json, stream)
            raise
        finally:
            if rollout:
                rollout.close()
    progress.done()
    _report(reports, time.monotonic() - started, check, as_json, stream)
    failed = output.summary(reports)["failed"] or any(r.error for r in reports.values())
    return 1 if failed else 0


def _report(reports, duration, check, as_json, stream):
    for report in reports.values():
        report.results, report.error = secrets.redact(report.results), secrets.redact(report.error)
    if as_json:
        stream.write(output.as_json(reports, duration) + "\n")
    else:
        output.Highstate(stream).write(reports, duration, check=check)


@contextlib.contextmanager
def sigterm_as_interrupt():
    """SIGTERM stops a run the way Ctrl-C does (commands in flight finish, nothing new starts)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
