"""Apply compiled states to hosts: one SSH connection and one facts round-trip per host, hosts in parallel.

Per host, states run in the compiled order. Requisites keep Salt's meaning: a failed `require`/`watch`
target fails the dependent, `onchanges` runs a state only when a target changed, and `watch` calls the
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

from hafab.engine import facts as factlib
from hafab import states as statelib
from hafab.engine.errors import HafabError, HostError
from hafab.states import pkg as pkglib
from hafab.states.base import Outcome, Plan
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


@dataclass
class PkgBatch:
    installed: dict = field(default_factory=dict)
    error: str = ""


class HostRun:
    """The run of all states of one host over one connection."""

    def __init__(self, name, states, remote, check, deadline, rollout=None):
        self.name = name
        self.rollout = rollout
        self.entered = False
        self.states = states
        self.remote = remote
        self.check = check
        self.deadline = deadline
        self.facts = None
        self.dirty = False
        self.batch = None
        self.plans = {}

    def run(self, script, stdin=b"", timeout=300):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise HostError(f"{self.name}: per-host timeout reached")
        return self.remote.run(script, stdin=stdin, timeout=min(timeout, remaining))

    def gather(self, states, lock=None):
        """Facts for `states` in one round trip; with `lock` (lock_owner, wait, on_wait, stop), the first
        gather also takes the host's lock in that same round trip."""
        query = factlib.FactQuery()
        for state in states:
            statelib.lookup(state.function).query(state, query)
            for command in _conditions(state):
                query.commands[command] = None
        if self.rollout and self.facts is None and self.rollout.group(self.name) == "lb":
            query.commands[self.rollout.vip_command()] = None
        script, token = factlib.script(query)
        if lock:
            owner, wait, on_wait, stop = lock
            output = self.remote.hold_lock(owner, wait=wait, on_wait=on_wait, stop=stop, then=script,
                                           until=factlib.end_marker(token))
        else:
            output = self.run(script, timeout=120).stdout
        gathered = factlib.parse(output, token, query)
        if self.batch is not None:
            gathered.pkg_batch = self.batch.installed
        return gathered

    def enter_rollout(self):
        """Wait for this host's turn to change (see rollout.py); once per run."""
        if self.rollout and not self.entered:
            self.rollout.enter(self.name)
            self.entered = True

    def will_change(self):
        """Whether any state predicts a change from the facts gathered first (as --check would)."""
        return any(statelib.lookup(s.function).plan(s, self.facts).changes for s in self.states
                   if not _condition_comment(s, self.facts))

    def pkg_batch(self, state, missing):
        """Install the missing packages of this state, and on the first call those of every later
        pkg.installed state without requisites too, in one apt-get run."""
        if self.batch is None:
            self.batch = PkgBatch()
            wanted, refresh = list(missing), self.plans[state.key].action["refresh"]
            for other in self.states:
                plan = self.plans.get(other.key) or _initial_plan(self, other)
                if (other.function == "pkg.installed" and other is not state and plan.changes
                        and not (other.require or other.watch or other.onchanges)):
                    wanted += [p for p in plan.action["missing"] if p not in wanted]
                    refresh = refresh or plan.action["refresh"]
        else:
            wanted = [p for p in missing if p not in self.batch.installed]
            refresh = False
        if wanted:
            installed, error = pkglib.run_install(self, wanted, refresh)
            self.batch.installed.update(installed)
            self.batch.error = error
        return self.batch


def _initial_plan(host, state):
    if state.function != "pkg.installed":
        return _NO_PLAN
    return statelib.lookup(state.function).plan(state, host.facts)


_NO_PLAN = Plan()


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


def run_hosts(compiled, ssh_config, check=False, timeout=600, progress=None, rollout=None):
    """Run every host's states in parallel; returns {host: HostReport} in the order given.

    On Ctrl-C (or SIGTERM turned into KeyboardInterrupt by the caller) no new state starts on any host;
    each host finishes its command in flight (a file write is temp file, check, rename: never half
    done), then Interrupted carries the reports.
    """
    progress = progress or (lambda *a: None)
    STOP.clear()
    workers = max(1, min(len(compiled), MAX_PARALLEL))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {name: pool.submit(run_host, name, states, ssh_config, check, timeout, progress,
                                     rollout=rollout)
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


def run_host(name, states, ssh_config, check, timeout, progress, lock_wait=60, rollout=None):
    report = HostReport(name)
    started = time.monotonic()
    remote = host = None
    try:
        remote = connect(name, ssh_config)
        report.timings["connect"] = time.monotonic() - started
        progress(name, "connected")
        host = HostRun(name, states, remote, check, started + timeout, rollout=rollout)
        t = time.monotonic()
        on_wait = lambda holder: progress(name, f"waiting for the lock held by {holder}")  # noqa: E731
        host.facts = host.gather(states, lock=(_lock_owner(), min(lock_wait, timeout), on_wait, STOP))
        report.timings["facts"] = time.monotonic() - t
        if rollout:
            rollout.register(name, host.will_change(), host.facts.commands.get(rollout.vip_command()) == 0)
        t = time.monotonic()
        _run_states(host, report, progress)
        report.timings["apply"] = time.monotonic() - t
        if not report.error:
            progress(name, "done")
    except HostError as exc:
        report.error = str(exc).removeprefix(f"{name}: ")
        progress(name, f"failed: {report.error}")
    finally:
        if rollout:
            if name not in rollout.registered:
                rollout.register(name, False)
            if host is not None and host.entered:
                rollout.leave(name)
        if remote is not None:
            report.channel_opens = remote.channel_opens
            remote.close()
    return report


def _run_states(host, report, progress):
    for number, state in enumerate(host.states):
        if STOP.is_set():
            report.error = f"interrupted before {state.id} ({state.function}); later states did not run"
            return
        start = datetime.now()
        t = time.monotonic()
        outcome = _run_state(host, state, report.results)
        ret = {"__id__": state.id, "__sls__": state.sls, "__run_num__": number, "name": state.name,
               "result": outcome.result, "changes": outcome.changes, "comment": outcome.comment,
               "start_time": start.strftime("%H:%M:%S.%f"),
               "duration": round((time.monotonic() - t) * 1000, 3)}
        report.results[state.key] = ret
        if outcome.changes and outcome.result is not None:
            host.dirty = True
        if outcome.result is False:
            progress(host.name, f"{state.id}: failed")
        elif outcome.changes:
            progress(host.name, f"{state.id}: {'would change' if host.check else 'changed'}")


def _failed_requisites(state, results):
    keys = state.require + state.watch + state.onchanges
    return [k for k in dict.fromkeys(keys) if results.get(k, {}).get("result") is False]


def _changed(keys, results):
    return [k for k in keys if results.get(k, {}).get("changes") and results[k]["result"] is not False]


def _run_state(host, state, results):
    failed = _failed_requisites(state, results)
    if failed:
        return Outcome(False, "One or more requisite failed: " + ", ".join(_short(k) for k in failed))
    if state.onchanges and not _changed(state.onchanges, results):
        return Outcome(True, "State was not run because none of the onchanges reqs changed")
    fn = statelib.lookup(state.function)
    if host.dirty:  # something changed since the facts were read: read them again for the rest, at once
        host.facts = host.gather(host.states[host.states.index(state):])
        host.dirty = False
    facts = host.facts
    skip = _condition_comment(state, facts)
    if skip:
        return Outcome(True, skip)
    plan = fn.plan(state, facts)
    host.plans[state.key] = plan
    if plan.changes and host.check:
        outcome = Outcome(None, plan.comment, plan.changes)
    elif plan.changes:
        host.enter_rollout()
        outcome = fn.apply(state, plan, host)
    else:
        outcome = Outcome(True, plan.comment)
    if (state.watch and fn.mod_watch and outcome.result is not False and not outcome.changes
            and _changed(state.watch, results)):
        if not host.check:
            host.enter_rollout()
        outcome = fn.mod_watch(state, host, facts)
    return outcome


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
