"""`inv provision`: validate and compile everything, choose the target, then apply over SSH."""

import contextlib
import getpass
import io
import signal
import socket
import threading
import time

from hafab.cluster import inventory as inventorylib
from hafab.cluster import minions, reach
from hafab.cluster.rollout import Rollout
from hafab.engine import output, render, runner
from hafab.engine.errors import EXIT_CHANGES, InputError
from hafab.engine.hooks import NO_HOOKS
from hafab.engine.journal import JournalSettings, new_run_id
from hafab.engine.progress import Progress
from hafab.engine.result import TaskResult


def provision(inventory_path="hosts.yaml", hosts=None, roles=None, check=False, ssh_config=None, timeout=600,
              colour=False, detailed_exitcode=False):
    """Run the top file's states on the chosen hosts; a TaskResult (ok: no state failed, every host ran).

    With check and detailed_exitcode, an ok result that would change something exits 3 (drift).
    Interrupted (exit 1) carries the result of what ran before the interrupt."""
    if detailed_exitcode and not check:
        raise InputError("--detailed-exitcode", "only with --check (it tells whether a run would change anything)")
    inventory = inventorylib.load(inventory_path)
    chosen = inventory.select(hosts, roles)
    if not chosen:
        raise InputError(inventory.where, "no host matches --hosts/--roles")
    render.cache_writes(not check)   # --check writes nothing locally but the secret: it only reads the cache
    compiled = minions.compile_hosts(inventory, chosen)
    config = reach.ssh_config_for(inventory, chosen, ssh_config)
    result = run_states(inventory, compiled, config, check=check, timeout=timeout, colour=colour,
                        journal=None if check else journal_settings(inventory))
    if detailed_exitcode and result.ok and result.document["summary"]["changed"]:
        result.code = EXIT_CHANGES
    return result


def journal_settings(inventory, kind="provision", rolls_back=""):
    """How this run is kept in each host's history (hafab.engine.journal)."""
    return JournalSettings(run_id=new_run_id(), who=f"{getpass.getuser()}@{socket.gethostname()}",
                           label=inventory.cluster["name"], keep=inventory.cluster["keep_runs"], kind=kind,
                           rolls_back=rolls_back)


def run_states(inventory, compiled, config, *, check, timeout, colour, journal, what="provision"):
    """Apply `compiled` ({host: [State]}) in the cluster's rolling order; the run's TaskResult."""
    started = time.monotonic()
    progress = Progress(len(compiled), what + (" (check)" if check else ""))
    rollout = None if check else Rollout(inventory, compiled, config, progress.event, timeout)
    with sigterm_as_interrupt():
        try:
            reports = runner.run_hosts(compiled, config, check=check, timeout=timeout, progress=progress.event,
                                       hooks=rollout or NO_HOOKS, journal=journal)
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
