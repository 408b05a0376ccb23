"""One outage run: baseline load, break, hold, restore, wait until healthy, all under load and watched.

One run: baseline load for a second, break the hosts (kind service|kill|hang|host|network), hold the
outage for --duration seconds, restore (unless --no-restore) and wait until the cluster is healthy
again, all under a steady load of new-connection GETs to the VIP and with a watcher of the VIP holder.
"""

import time
from dataclasses import dataclass, field

from hafab.engine.errors import HostError
from hafab.outage.breaking import break_host, restore_host, self_healed
from hafab.outage.fleet import Fleet, each
from hafab.outage.health import wait_healthy
from hafab.outage.load import Load, VipWatcher, lab_vip_check, ssh_vip_check
from hafab.outage.reporting import build_report
from hafab.outage.scenario import DEFAULT_DURATION, DEFAULT_RATE, prepare

BASELINE = 1.0          # seconds of load before the break
SETTLE = 1.0            # seconds of load after the cluster is healthy again
RESTORE_BOUND = 120.0   # seconds a restore may take to reach a healthy cluster
PREFLIGHT_BOUND = 30.0  # seconds the cluster may take to be healthy before we break it


@dataclass
class Record:
    """Everything measured in one run (the report is made from it; the plot draws it)."""

    name: str
    samples: list
    watch: list
    lb_names: list
    t_start: float
    t_break: float
    t_broken: float
    t_restore: float
    t_healthy: float | None
    t_end: float
    interval: float
    report: dict


@dataclass
class _Phases:
    """What happened so far in one run, filled in as it goes (the restore reads it even after an error)."""

    broke: list = field(default_factory=list)
    healed: list = field(default_factory=list)
    t_break: float | None = None
    t_broken: float | None = None
    t_restore: float | None = None
    t_healthy: float | None = None
    restored: bool = False
    restore_problems: list = field(default_factory=list)


def run(inventory_path, hosts, kind="service", duration=DEFAULT_DURATION, rate=DEFAULT_RATE, restore=True,
        ssh_config=None, progress=None):
    """prepare + connect + execute: the Record of one outage."""
    plan = prepare(inventory_path, hosts, kind, duration, rate, restore, ssh_config)
    fleet = Fleet(plan.ssh_config)
    try:
        return execute(plan, fleet, progress)
    finally:
        fleet.close()


def execute(plan, fleet, progress=None, preflight=True):
    """Run one scenario of `plan` with connections from `fleet`: a Record (its .report is the JSON)."""
    say = progress or (lambda message: None)
    if preflight:
        healthy, problems, _ = wait_healthy(plan.inventory, fleet, PREFLIGHT_BOUND)
        if not healthy:
            raise HostError(f"the cluster is not healthy before the outage: {'; '.join(problems[:3])}")
    watcher, traffic = _observers(plan, fleet)
    watcher.start()
    t_start = time.monotonic()
    traffic.start()
    phases = _Phases()
    try:
        _break_and_hold(plan, fleet, say, phases)
    finally:
        phases.t_restore = phases.t_restore or time.monotonic()
        phases.t_broken = phases.t_broken or phases.t_restore
        phases.t_break = phases.t_break or phases.t_restore
        if plan.restore and phases.broke:
            _restore_and_settle(plan, fleet, say, phases, watcher, traffic)
        samples = traffic.stop()
        watch = watcher.stop()
        t_end = time.monotonic()
    record = Record(plan.name, samples, watch, watcher.lb_names, t_start, phases.t_break, phases.t_broken,
                    phases.t_restore, phases.t_healthy, t_end, 1.0 / plan.rate, {})
    record.report = build_report(plan, record, phases.healed, phases.restored, phases.restore_problems)
    return record


def _observers(plan, fleet):
    """(VipWatcher, Load) for the run, bounded to outlast it; not started."""
    inventory = plan.inventory
    lb_names = [lb.name for lb in inventory.lbs()]
    restore_budget = RESTORE_BOUND + SETTLE + 10 if plan.restore else 1.0
    seconds = BASELINE + plan.duration + restore_budget + 5
    holds = lab_vip_check(inventory) if plan.where == "lab" else ssh_vip_check(inventory, fleet)
    watcher = VipWatcher(lb_names, holds, interval=0.05, max_seconds=seconds + 5)
    traffic = Load(plan.prober, inventory.cluster["vip"], rate=plan.rate, timeout=1.0, max_seconds=seconds,
                   **(plan.site or {}))
    return watcher, traffic


def _break_and_hold(plan, fleet, say, phases):
    time.sleep(BASELINE)
    phases.t_break = time.monotonic()
    say(f"outage: {plan.name}: breaking {', '.join(plan.hosts)}")
    errors = each(plan.hosts, lambda n: (phases.broke.append(n), break_host(plan, fleet, n)))
    phases.t_broken = time.monotonic()
    if errors:
        raise HostError("; ".join(errors))
    time.sleep(max(0.0, phases.t_break + plan.duration - time.monotonic()))
    phases.healed = self_healed(plan, fleet)
    phases.t_restore = time.monotonic()


def _restore_and_settle(plan, fleet, say, phases, watcher, traffic):
    say(f"outage: {plan.name}: restoring")
    errors = restore_all(plan, fleet, phases.broke, watcher)
    if errors:
        phases.restore_problems = errors
        return
    phases.restored, phases.restore_problems, _ = wait_healthy(plan.inventory, fleet, RESTORE_BOUND, traffic)
    if phases.restored:
        phases.t_healthy = time.monotonic()
        say(f"outage: {plan.name}: healthy again {phases.t_healthy - phases.t_restore:.1f} s after the restore "
            f"began")
        time.sleep(SETTLE)


def restore_all(plan, fleet, names, watcher, wait_vip=5.0):
    """Restore the webs at once, then the LBs one by one in inventory order, letting each take the VIP
    when nobody holds it (so the first LB of hosts.yaml holds it after all LBs were down, every time)."""
    lbs = {lb.name for lb in plan.inventory.lbs()}
    errors = each([n for n in names if n not in lbs], lambda n: restore_host(plan, fleet, n))
    for name in [n for n in plan.inventory.hosts if n in names and n in lbs]:
        errors += each([name], lambda n: restore_host(plan, fleet, n))
        deadline = time.monotonic() + wait_vip
        while not watcher.holders_now() and time.monotonic() < deadline:
            time.sleep(0.05)
    return errors
