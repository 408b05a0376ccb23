"""Apply compiled states to hosts: one SSH connection and one facts round-trip per host, hosts in parallel.

Per host, states run in the compiled order. Requisites keep Salt's meaning: a failed `require`/`watch`
target fails the dependent, `onchanges` runs a state only when a target changed (a failed target did
not: the state is not run, result True), and `watch` calls the
function's mod_watch (restart/reload) when a watched state changed and the state itself changed nothing.
After a change on a host, the facts of the states still to run are read again (one round trip), since
the change may alter them.
"""

import concurrent.futures
import getpass
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from hafab.engine import boundary
from hafab.engine import facts as factlib
from hafab.engine import states as statelib
from hafab.engine.errors import HafabError, HostError
from hafab.engine.hooks import NO_HOOKS
from hafab.engine.journal import HostJournal
from hafab.engine.states.base import Outcome
from hafab.engine.transport import connect

MAX_PARALLEL = 64
STOP = threading.Event()  # set on interrupt: no host starts another state


@dataclass
class HostReport:
    name: str
    results: dict = field(default_factory=dict)   # state key -> Salt-style return dict
    error: str = ""
    timings: dict = field(default_factory=dict)   # phase -> seconds
    channel_opens: int = 0


class HostRun:
    """The run of all states of one host over one connection."""

    def __init__(self, name, states, remote, check, deadline, hooks=NO_HOOKS, journal=None):
        self.name = name
        # the run's history on the host (hafab.engine.journal); never in check mode
        self.journal = HostJournal(journal, self.run) if journal and not check else None
        self.hooks = hooks
        self.turn_taken = False
        self.states = states
        self.remote = remote
        self.check = check
        self.deadline = deadline
        self.facts = None
        self.dirty = False
        self.aggregated = {}   # function -> what its aggregated apply did this run (see aggregate())
        self.plans = {}
        self.hook_commands = []

    def run(self, script, stdin=b"", timeout=300):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise HostError(f"{self.name}: per-host timeout reached")
        return self.remote.run(script, stdin=stdin, timeout=min(timeout, remaining))

    def gather(self, states, lock=None):
        """Facts for `states` in one round trip; with `lock` (lock_owner, wait, on_wait, stop), the first
        gather also takes the host's lock in that same round trip, and reads the hooks' commands too."""
        query = factlib.FactQuery()
        for state in states:
            statelib.lookup(state.function).query(state, query)
            for command in _conditions(state):
                query.commands[command] = None
        if self.facts is None:
            self.hook_commands = list(self.hooks.fact_commands(self.name))
            for command in self.hook_commands:
                query.commands[command] = None
        script, token = factlib.script(query)
        if lock:
            owner, wait, on_wait, stop = lock
            output = self.remote.hold_lock(owner, wait=wait, on_wait=on_wait, stop=stop, then=script,
                                           until=factlib.end_marker(token))
        else:
            output = self.run(script, timeout=120).stdout
        gathered = factlib.parse(output, token, query)
        gathered.aggregated = self.aggregated
        return gathered

    def take_turn(self):
        """Before the first change of this run: the hooks may hold the host until its turn comes."""
        if not self.turn_taken:
            self.hooks.before_change(self.name)
            self.turn_taken = True

    def will_change(self):
        """Whether the run will change anything, predicted from the first facts exactly as --check
        reports it: failed requisites, onchanges that will not fire and unless/onlyif included."""
        predicted = {}
        for state in self.states:
            outcome = _decide(self, state, predicted)
            if outcome is None:
                plan = statelib.lookup(state.function).plan(state, self.facts)
                outcome = Outcome(None, plan.comment, plan.changes)
                if _watch_fires(state, outcome, predicted):
                    return True
            if outcome.changes and outcome.result is not False:
                return True
            predicted[state.key] = {"result": outcome.result, "changes": outcome.changes}
        return False

    def aggregate(self, state):
        """Salt's mod_aggregate: the other states of `state`'s function that can be applied together with it
        now, each with its plan: those without requisites whose plan (from the facts at hand) changes
        something. A state function that batches work asks for them in apply() and keeps what it did in
        `self.aggregated[function]`, which later plans of the same function read from facts.aggregated."""
        peers = []
        for other in self.states:
            if (other is state or other.function != state.function
                    or other.require or other.watch or other.onchanges):
                continue
            plan = self.plans.get(other.key) or statelib.lookup(other.function).plan(other, self.facts)
            if plan.changes:
                peers.append((other, plan))
        return peers


def _lock_owner():
    return f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()} since {datetime.now():%H:%M:%S}"


def _conditions(state):
    return [c for arg in ("unless", "onlyif") for c in _as_list(state.args.get(arg))]


def _as_list(value):
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


class Interrupted(HafabError):
    """SIGINT/SIGTERM: every host finished the command in flight, and nothing more ran."""


def run_hosts(compiled, ssh_config, check=False, timeout=600, progress=None, hooks=NO_HOOKS, journal=None):
    """Run every host's states in parallel; returns {host: HostReport} in the order given.

    `hooks` (hafab.engine.hooks.RunHooks) is told about each host's plan, first change and end; with
    `journal` (hafab.engine.journal.JournalSettings) each host keeps what the run changed, for rollback.
    On Ctrl-C (or SIGTERM turned into KeyboardInterrupt by the caller) no new state starts on any host;
    each host finishes its command in flight (a file write is temp file, check, rename: never half
    done), then Interrupted carries the reports.
    """
    progress = progress or (lambda *a: None)
    STOP.clear()
    workers = max(1, min(len(compiled), MAX_PARALLEL))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {name: pool.submit(run_host, name, states, ssh_config, check, timeout, progress,
                                     hooks=hooks, journal=journal)
                   for name, states in compiled.items()}
        try:
            concurrent.futures.wait(futures.values())
        except KeyboardInterrupt:
            STOP.set()
            progress("*", "interrupted: each host finishes the command in flight, then stops")
            concurrent.futures.wait(futures.values())
        reports = {name: future.result() for name, future in futures.items()}
    if STOP.is_set():
        raise Interrupted("interrupted: no state was started after the interrupt; see the report above",
                          reports=reports)
    return reports


def run_host(name, states, ssh_config, check, timeout, progress, lock_wait=60, hooks=NO_HOOKS, journal=None):
    report = HostReport(name)
    started = time.monotonic()
    remote = None
    try:
        remote = connect(name, ssh_config)
        report.timings["connect"] = time.monotonic() - started
        progress(name, "connected")
        host = HostRun(name, states, remote, check, started + timeout, hooks=hooks, journal=journal)
        t = time.monotonic()
        on_wait = lambda holder: progress(name, f"waiting for the lock held by {holder}")  # noqa: E731
        host.facts = host.gather(states, lock=(_lock_owner(), min(lock_wait, timeout), on_wait, STOP))
        report.timings["facts"] = time.monotonic() - t
        hooks.planned(name, host.will_change(), {c: host.facts.commands.get(c) for c in host.hook_commands})
        t = time.monotonic()
        try:
            _run_states(host, report, progress)
        finally:
            _finish_journal(host, report, progress)
        report.timings["apply"] = time.monotonic() - t
        if not report.error:
            progress(name, "done")
    except HostError as exc:
        report.error = str(exc).removeprefix(f"{name}: ")
        progress(name, f"failed: {report.error}")
    finally:
        try:
            hooks.finished(name)
        except HostError as exc:
            report.error = report.error or str(exc).removeprefix(f"{name}: ")
        if remote is not None:
            report.channel_opens = remote.channel_opens
            remote.close()
    return report


def _finish_journal(host, report, progress):
    """Write the host's run record (a run that changed nothing writes none)."""
    if host.journal is None:
        return
    try:
        error = host.journal.finish()
    except HostError as exc:
        error = str(exc)
    if error:
        report.error = report.error or f"the run's history could not be written: {error}"
        progress(host.name, f"failed: {report.error}")


def _run_states(host, report, progress):
    for number, state in enumerate(host.states):
        if STOP.is_set():
            report.error = f"interrupted before {state.id} ({state.function}); later states did not run"
            return
        start = datetime.now()
        t = time.monotonic()
        outcome = _run_state(host, state, report.results)
        boundary.learn_from_changes(outcome.changes)  # what a host holds in a secret's place: hidden from now on
        ret = {"__id__": state.id, "__sls__": state.sls, "__run_num__": number, "name": state.name,
               "result": outcome.result, "changes": outcome.changes, "comment": outcome.comment,
               "start_time": start.strftime("%H:%M:%S.%f"),
               "duration": round((time.monotonic() - t) * 1000, 3)}
        report.results[state.key] = ret
        if outcome.changes and outcome.result is not None:
            host.dirty = True
            if host.journal is not None:
                host.journal.changed(state.key)
        if outcome.result is False:
            progress(host.name, f"{state.id}: failed")
        elif outcome.changes:
            progress(host.name, f"{state.id}: {'would change' if host.check else 'changed'}")


def _failed_requisites(state, results):
    """Failed require/watch targets. A failed onchanges target does not fail the state (Salt 3008): it
    did not change, so the state is not run, with result True."""
    keys = state.require + state.watch
    return [k for k in dict.fromkeys(keys) if results.get(k, {}).get("result") is False]


def _changed(keys, results):
    return [k for k in keys if results.get(k, {}).get("changes") and results[k]["result"] is not False]


def _decide(host, state, results):
    """The outcome of `state` that needs no plan (a failed requisite, onchanges that did not fire,
    unless/onlyif), or None when its plan decides. Re-reads the facts first if a change made them stale."""
    failed = _failed_requisites(state, results)
    if failed:
        return Outcome(False, "One or more requisite failed: " + ", ".join(_short(k) for k in failed))
    if state.onchanges and not _changed(state.onchanges, results):
        return Outcome(True, "State was not run because none of the onchanges reqs changed")
    if host.dirty:  # something changed since the facts were read: read them again for the rest, at once
        host.facts = host.gather(host.states[host.states.index(state):])
        host.dirty = False
    skip = _condition_comment(state, host.facts)
    return Outcome(True, skip) if skip else None


def _watch_fires(state, outcome, results):
    """Salt's watch: mod_watch runs when a watched state changed and the state itself changed nothing."""
    fn = statelib.lookup(state.function)
    return bool(state.watch and fn.mod_watch and outcome.result is not False and not outcome.changes
                and _changed(state.watch, results))


def _run_state(host, state, results):
    decided = _decide(host, state, results)
    if decided is not None:
        return decided
    fn = statelib.lookup(state.function)
    facts = host.facts
    plan = fn.plan(state, facts)
    host.plans[state.key] = plan
    if plan.changes and host.check:
        outcome = Outcome(None, plan.comment, plan.changes)
    elif plan.changes:
        host.take_turn()
        kept = _keep_for_rollback(host, fn, state, plan)
        outcome = kept or fn.apply(state, plan, host)
    else:
        outcome = Outcome(True, plan.comment)
    if _watch_fires(state, outcome, results):
        if not host.check:
            host.take_turn()
        outcome = fn.mod_watch(state, host, facts)
    return outcome


def _keep_for_rollback(host, fn, state, plan):
    """Keep the files `state` is about to change in the run's history; a failed Outcome when that is
    impossible (then nothing is changed), else None."""
    if host.journal is None:
        return None
    paths = fn.touched_paths(state, plan)
    error = host.journal.keep(state.key, paths, fn.restore_info(state)) if paths else ""
    if error:
        return Outcome(False, f"the old content of {', '.join(paths)} could not be kept for rollback, so "
                              f"nothing was changed: {error}")
    return None


def _condition_comment(state, facts):
    """Salt's unless/onlyif: skip when every unless command succeeds, or when any onlyif command fails."""
    unless = _as_list(state.args.get("unless"))
    if unless and all(facts.commands.get(command) == 0 for command in unless):
        return "unless condition is true"
    for command in _as_list(state.args.get("onlyif")):
        if facts.commands.get(command) != 0:
            return "onlyif condition is false"
    return ""


def _short(key):
    module, ident, _name, fun = key.split("_|-")
    return f"{module}.{fun} {ident}"
