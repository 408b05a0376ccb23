"""`inv provision`: validate and compile everything, choose the target, then apply over SSH."""

import contextlib
import io
import signal
import threading
import time

from hafab.cluster import inventory as inventorylib
from hafab.cluster import minions, reach
from hafab.engine import output, runner
from hafab.engine.errors import InputError
from hafab.engine.progress import Progress
from hafab.engine.result import TaskResult
from hafab.cluster.rollout import Rollout
from hafab.engine.hooks import NO_HOOKS


def provision(inventory_path="hosts.yaml", hosts=None, roles=None, check=False, ssh_config=None, timeout=600,
              colour=False):
    """Run the top file's states on the chosen hosts; a TaskResult (ok: no state failed, every host ran).

    Interrupted (exit 1) carries the result of what ran before the interrupt."""
    started = time.monotonic()
    inventory = inventorylib.load(inventory_path)
    chosen = inventory.select(hosts, roles)
    if not chosen:
        raise InputError(inventory.where, "no host matches --hosts/--roles")
    compiled = minions.compile_hosts(inventory, chosen)
    config = reach.ssh_config_for(inventory, chosen, ssh_config)
    progress = Progress(len(compiled), "provision" + (" (check)" if check else ""))
    rollout = None if check else Rollout(inventory, compiled, config, progress.event, timeout)
    with sigterm_as_interrupt():
        try:
            reports = runner.run_hosts(compiled, config, check=check, timeout=timeout, progress=progress.event,
                                       hooks=rollout or NO_HOOKS)
        except runner.Interrupted as exc:
            progress.done()
            exc.result = _result(exc.reports, time.monotonic() - started, check, colour)
            raise
        finally:
            if rollout:
                rollout.close()
    progress.done()
    return _result(reports, time.monotonic() - started, check, colour)


def _result(reports, duration, check, colour):
    """The run's TaskResult, raw: the output boundary (hafab.cli.common) masks the secret when it prints."""
    text = io.StringIO()
    output.Highstate(text, colour=colour).write(reports, duration, check=check)
    failed = output.summary(reports)["failed"] or any(r.error for r in reports.values())
    return TaskResult(not failed, output.document(reports, duration), text.getvalue(), json_indent=2)


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
