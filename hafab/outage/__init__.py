"""`inv outage`: break hosts on purpose, probe the VIP under load, judge the outcome, restore, report.

The promise is the seed's outage table: web1 down -> everything served by web2 (and the other way
round); both webs down -> "503 Service Unavailable"; hap1 down -> the VIP moves to hap2 and service goes
on; hap2 down -> hap1 keeps it; both LBs down -> the service is down.

One run: baseline load for a second, break the hosts (kind service|kill|hang|host|network), hold the
outage for --duration seconds, restore (unless --no-restore) and wait until the cluster is healthy
again, all under a steady load of new-connection GETs to the VIP and with a watcher of the VIP holder.
The outcome is judged on the settled end of the outage (its last `tail` seconds: after detection and
failover had their chance); the failures before it are the price, measured as `window_ms`.

Order of work (docs/contract.md): load the inventory and check the flags, choose the ssh_config and check the
lab routes (InputError = exit 2, nothing sent), then connect.
"""

import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field

from hafab.cluster import inventory as inventorylib
from hafab.outage import load as loadlib
from hafab.cluster import reach
from hafab.engine import transport
from hafab.engine.errors import HostError, InputError
from hafab.cluster.probe import Prober

KINDS = ("service", "kill", "hang", "host", "network")
ROLE_UNITS = {"web": "apache2", "lb": "haproxy"}
MIN_DURATION, MAX_DURATION = 0.5, 600
DEFAULT_DURATION = 5.0
DEFAULT_RATE = 200
BASELINE = 1.0          # seconds of load before the break
SETTLE = 1.0            # seconds of load after the cluster is healthy again
RESTORE_BOUND = 120.0   # seconds a restore may take to reach a healthy cluster
PREFLIGHT_BOUND = 30.0  # seconds the cluster may take to be healthy before we break it
POLL = 0.3              # seconds between health polls


# ---- what was asked ---------------------------------------------------------------------------------

@dataclass
class Plan:
    inventory: object
    hosts: list               # names, in inventory order
    kind: str
    duration: float
    rate: float
    restore: bool
    ssh_config: str
    where: str                # "lab" | "vagrant" | "ssh"
    prober: Prober

    @property
    def name(self):
        return scenario_name(self.hosts, self.kind)


def scenario_name(hosts, kind):
    return "+".join(hosts) + " down" + ("" if kind == "service" else f" ({kind})")


def check_request(inventory, hosts, kind, duration, rate):
    """The flags' values, checked: (host names in inventory order, kind, duration, rate) or InputError."""
    if not hosts:
        raise InputError("--host", "name at least one host (e.g. --host web1 or --host web1,web2)")
    unknown = [h for h in hosts if h not in inventory.hosts]
    if unknown:
        raise InputError(inventory.where, f"hosts: no host named {unknown[0]!r} (--host)")
    if kind not in KINDS:
        raise InputError("--kind", f"{kind!r} must be one of {', '.join(KINDS)}")
    for name in hosts:
        if not units_of(inventory.hosts[name]):
            raise InputError(inventory.where, f"hosts.{name}.roles: no lb or web role, nothing to break")
    try:
        duration, rate = float(duration), float(rate)
    except (TypeError, ValueError):
        raise InputError("--duration/--rate", f"{duration!r}/{rate!r} must be numbers") from None
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise InputError("--duration", f"{duration:g} must be from {MIN_DURATION:g} to {MAX_DURATION} seconds")
    if not 1 <= rate <= loadlib.MAX_RATE:
        raise InputError("--rate", f"{rate:g} must be from 1 to {loadlib.MAX_RATE} requests per second")
    ordered = [h for h in inventory.hosts if h in set(hosts)]
    return ordered, kind, duration, rate


def _check_ssh_config(path):
    import paramiko
    try:
        paramiko.SSHConfig.from_text(reach.readable_ssh_config(path, f"--ssh-config: {path}"))
    except paramiko.ssh_exception.ConfigParseError as exc:
        raise InputError("--ssh-config", f"{path}: not a usable ssh_config ({exc})") from None


def units_of(host):
    """The role services of a host (apache2 on webs, haproxy on LBs)."""
    return [ROLE_UNITS[r] for r in ("lb", "web") if r in host.roles]


def prepare(inventory, hosts, kind="service", duration=DEFAULT_DURATION, rate=DEFAULT_RATE, restore=True,
            ssh_config=None):
    """Steps 1-3 of the order of work: InputError (exit 2) before anything is sent."""
    if isinstance(inventory, str):
        inventory = inventorylib.load(inventory)
    hosts, kind, duration, rate = check_request(inventory, hosts, kind, duration, rate)
    config = reach.ssh_config_for(inventory, list(inventory.hosts.values()), ssh_config)
    where = "ssh" if ssh_config else "lab"
    _check_ssh_config(config)
    if ssh_config and kind == "host":
        if shutil.which("vagrant") and os.path.exists(os.path.join(inventory.root, "Vagrantfile")):
            where = "vagrant"
        else:
            raise InputError("--kind", "host: only the lab or a Vagrant setup (Vagrantfile next to hosts.yaml "
                                       "and vagrant installed) can power hosts back on; refusing")
    prober = Prober(inventory, lab=not ssh_config)
    return Plan(inventory, hosts, kind, duration, rate, restore, config, where, prober)


# ---- SSH to the hosts, reconnecting after a host came back ---------------------------------------

class Fleet:
    """One SSH connection per host, opened on first use and again after it broke."""

    def __init__(self, ssh_config, connect_timeout=3.0):
        self.ssh_config = ssh_config
        self.connect_timeout = connect_timeout
        self._remotes = {}
        self._locks = {}
        self._lock = threading.Lock()

    def run(self, name, script, timeout=10):
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            remote = self._remotes.get(name)
            if remote is None:
                try:
                    remote = transport.connect(name, self.ssh_config, timeout=self.connect_timeout)
                except HostError:
                    raise
                except Exception as exc:  # noqa: BLE001 - e.g. paramiko's parse errors: one line, exit 1
                    raise HostError(f"{name}: SSH failed: {exc}") from None
                self._remotes[name] = remote
        try:
            return remote.run(script, timeout=timeout)
        except HostError:
            self.forget(name)
            raise

    def forget(self, name):
        with self._lock:
            remote = self._remotes.pop(name, None)
        if remote:
            try:
                remote.close()
            except Exception:  # noqa: BLE001 - a broken connection may fail to close
                pass

    def close(self):
        for name in list(self._remotes):
            self.forget(name)


def _ok(result, what):
    if result.exit_status != 0:
        raise HostError(f"{what} failed: {(result.stderr or result.stdout).strip()[:200]}")
    return result


# ---- breaking and restoring ----------------------------------------------------------------------

def break_host(plan, fleet, name):
    """Break one host as plan.kind says."""
    inventory, kind = plan.inventory, plan.kind
    units = units_of(inventory.hosts[name])
    if kind == "service":
        _ok(fleet.run(name, f"systemctl stop {' '.join(units)}"), f"{name}: systemctl stop")
    elif kind == "kill":
        script = "; ".join(f'pid=$(systemctl show -p MainPID --value {u}); [ "${{pid:-0}}" -gt 0 ] && kill -KILL "$pid"'
                           for u in units)
        _ok(fleet.run(name, script), f"{name}: kill -KILL of the main process")
    elif kind == "hang":
        _ok(fleet.run(name, "; ".join(f"systemctl kill -s STOP {u}" for u in units)), f"{name}: SIGSTOP")
    elif kind == "host":
        if plan.where == "lab":
            from hafab import lab
            fleet.forget(name)
            lab.stop_host(inventory, name, power_cut=True)
        else:
            _vagrant(inventory, "halt", name)
    elif kind == "network":
        interface = inventory.cluster["interface"]
        if plan.where == "lab":
            _lab_link(inventory, name, "down")
        else:
            # the host brings its link back by itself after a while, in case we cannot reach it again
            back = int(plan.duration + 30)
            script = (f"setsid sh -c 'ip link set {interface} down; sleep {back}; ip link set {interface} up' "
                      f">/dev/null 2>&1 < /dev/null &")
            _ok(fleet.run(name, script), f"{name}: link down")


def restore_host(plan, fleet, name):
    inventory, kind = plan.inventory, plan.kind
    host = inventory.hosts[name]
    units = units_of(host)
    if kind in ("service", "kill"):
        extra = " keepalived" if "lb" in host.roles else ""
        script = f"systemctl reset-failed {' '.join(units)} 2>/dev/null; systemctl start {' '.join(units)}{extra}"
        _ok(fleet.run(name, script, timeout=60), f"{name}: systemctl start")
    elif kind == "hang":
        _ok(fleet.run(name, "; ".join(f"systemctl kill -s CONT {u}" for u in units)), f"{name}: SIGCONT")
    elif kind == "host":
        if plan.where == "lab":
            from hafab import lab
            lab.start_host(inventory, name)
        else:
            _vagrant(inventory, "up", name)
        fleet.forget(name)
    elif kind == "network":
        if plan.where == "lab":
            _lab_link(inventory, name, "up")
        else:
            interface = inventory.cluster["interface"]
            deadline = time.monotonic() + plan.duration + 45
            while True:
                try:
                    _ok(fleet.run(name, f"ip link set {interface} up", timeout=5), f"{name}: link up")
                    return
                except HostError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(1)


def _lab_link(inventory, name, state):
    """Set the host's cluster interface down or up inside its own network namespace (made by the lab)."""
    from hafab import lab
    ns = lab.host_netns(inventory, name)
    out = subprocess.run(["ip", "-n", ns, "link", "set", inventory.cluster["interface"], state],
                         capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise HostError(f"{name}: ip -n {ns} link set {state} failed: {out.stderr.strip()}")


def _vagrant(inventory, action, name):
    command = ["vagrant", action, name] + (["--no-provision"] if action == "up" else [])
    env = dict(os.environ, VAGRANT_CHECKPOINT_DISABLE="1")
    out = subprocess.run(command, cwd=inventory.root, env=env, capture_output=True, text=True, timeout=600,
                         stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise HostError(f"{name}: vagrant {action} failed: {out.stderr.strip()[-300:]}")


def self_healed(plan, fleet):
    """Hosts whose killed service systemd restarted on its own (kind kill only)."""
    if plan.kind != "kill":
        return []
    healed = []
    for name in plan.hosts:
        units = units_of(plan.inventory.hosts[name])
        try:
            result = fleet.run(name, f"systemctl is-active {' '.join(units)}", timeout=5)
        except HostError:
            continue
        if result.exit_status == 0:
            healed.append(name)
    return healed


# ---- health -------------------------------------------------------------------------------------

def health_script(inventory, host):
    lines = []
    if "lb" in host.roles:
        vip, interface = inventory.cluster["vip"], inventory.cluster["interface"]
        lines += [
            f'if ip -4 -o addr show dev {interface} | grep -q " {vip}/"; then echo "vip 1"; else echo "vip 0"; fi',
            'echo "unit haproxy $(systemctl is-active haproxy)"',
            'echo "unit keepalived $(systemctl is-active keepalived)"',
            'echo "vrrp $(cut -d" " -f1 /run/keepalived/state 2>/dev/null)"',
            "echo 'show stat' | timeout 2 socat stdio UNIX-CONNECT:/run/haproxy/admin.sock 2>/dev/null"
            " | awk -F, '!/^#/ && $2 != \"FRONTEND\" && $2 != \"BACKEND\" && NF > 17 {print \"server \" $2 \" \" $18}'",
        ]
    if "web" in host.roles:
        lines.append('echo "unit apache2 $(systemctl is-active apache2)"')
    return "\n".join(lines) + "\n"


def parse_health(output):
    """{"vip": bool, "units": {unit: state}, "vrrp": STATE, "servers": {name: status}} of health_script."""
    facts = {"vip": False, "units": {}, "vrrp": "", "servers": {}}
    for line in output.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "vip":
            facts["vip"] = words[1:] == ["1"]
        elif words[0] == "unit" and len(words) >= 2:
            facts["units"][words[1]] = words[2] if len(words) > 2 else ""
        elif words[0] == "vrrp":
            facts["vrrp"] = words[1] if len(words) > 1 else ""
        elif words[0] == "server" and len(words) >= 3:
            facts["servers"][words[1]] = " ".join(words[2:])
    return facts


def evaluate_health(inventory, facts):
    """(healthy, problems, holder) from {host: parse_health dict or an error string}.

    Healthy: every host answers with its role services active; exactly one LB holds the VIP, as MASTER,
    the others BACKUP; with preempt the holder is the LB of highest priority; the holder's haproxy sees
    every web server UP.
    """
    problems = []
    for name, fact in facts.items():
        if isinstance(fact, str):
            problems.append(f"{name}: {fact}")
            continue
        for unit, state in sorted(fact["units"].items()):
            if state != "active":
                problems.append(f"{name}: {unit} is {state or 'unknown'}")
    lbs = inventory.lbs()
    holders = [lb.name for lb in lbs if isinstance(facts.get(lb.name), dict) and facts[lb.name]["vip"]]
    holder = holders[0] if len(holders) == 1 else None
    if not holders:
        problems.append("no LB holds the VIP")
    elif len(holders) > 1:
        problems.append(f"several LBs hold the VIP: {', '.join(holders)}")
    for lb in lbs:
        fact = facts.get(lb.name)
        if not isinstance(fact, dict):
            continue
        want = "MASTER" if lb.name == holder else "BACKUP"
        if holder and fact["vrrp"] != want:
            problems.append(f"{lb.name}: keepalived is {fact['vrrp'] or 'in no known state'}, not {want}")
    if holder and inventory.cluster["preempt"]:
        top = max(lbs, key=lambda lb: lb.priority)
        if holder != top.name:
            problems.append(f"preempt: {top.name} (priority {top.priority}) should hold the VIP, not {holder}")
    if holder:
        servers = facts[holder]["servers"]
        for web in inventory.webs():
            status = servers.get(web.name)
            if status != "UP":
                problems.append(f"{holder}: haproxy sees {web.name} {status or 'nowhere'}, not UP")
    return not problems, problems, holder


def gather_health(inventory, fleet):
    facts = {}

    def one(name):
        try:
            result = fleet.run(name, health_script(inventory, inventory.hosts[name]), timeout=6)
            facts[name] = parse_health(result.stdout)
        except HostError as exc:
            facts[name] = str(exc).split(": ", 1)[-1]
    threads = [threading.Thread(target=one, args=(n,)) for n in inventory.hosts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {n: facts[n] for n in inventory.hosts}


def wait_healthy(inventory, fleet, bound, load=None):
    """Poll until healthy (and the load's last requests all succeeded): (healthy, problems, seconds)."""
    started = time.monotonic()
    problems = ["not checked"]
    while True:
        healthy, problems, _ = evaluate_health(inventory, gather_health(inventory, fleet))
        if healthy and load is not None:
            recent = load.recent(0.5)
            bad = [s for s in recent if s.failed]
            if not recent or bad:
                healthy = False
                problems = [f"{len(bad)} of the last {len(recent)} requests to the VIP failed"]
        if healthy:
            return True, [], time.monotonic() - started
        if time.monotonic() - started > bound:
            return False, problems, time.monotonic() - started
        time.sleep(POLL)


# ---- expectation and judgement (pure) -------------------------------------------------------------

@dataclass
class Expectation:
    text: str
    mode: str                 # "served" | "503" | "down"
    lbs_alive: list
    webs_alive: list
    keeper: str | None = None  # the LB that held the VIP before and was not broken: it must keep it
    notes: list = field(default_factory=list)


def expectation(inventory, broken, holder_before=None, healed=()):
    """What the seed's table promises when `broken` hosts are down (`healed`: came back by themselves)."""
    down = [h for h in broken if h not in healed]
    lbs = [lb.name for lb in inventory.lbs()]
    webs = [w.name for w in inventory.webs()]
    lbs_alive = [n for n in lbs if n not in down]
    webs_alive = [n for n in webs if n not in down]
    keeper = holder_before if holder_before in lbs and holder_before not in broken else None
    notes = [f"{h} came back by itself (systemd restarted it)" for h in broken if h in healed]
    if not lbs_alive:
        return Expectation("service down: no load balancer left to answer on the VIP", "down", [], webs_alive,
                           None, notes)
    if keeper:
        lb_text = f"{keeper} keeps the VIP"
    elif len(lbs_alive) == 1:
        lb_text = f"the VIP is on {lbs_alive[0]}"
    else:
        lb_text = f"one of {', '.join(lbs_alive)} holds the VIP"
    if not webs_alive:
        return Expectation(f"{lb_text}; every request answered 503 Service Unavailable (no web server left)",
                           "503", lbs_alive, [], keeper, notes)
    served = " or ".join(webs_alive)
    tail = "service goes on" if any(n in broken for n in lbs) else f"every request served by {served}"
    if any(n in broken for n in lbs) and any(n in broken for n in webs):
        tail = f"service goes on, served by {served}"
    return Expectation(f"{lb_text} and {tail}", "served", lbs_alive, webs_alive, keeper, notes)


def judge(expect, tail, holders_during, min_requests=5):
    """(held, reasons) for the settled end of the outage: `tail` samples, `holders_during` a tuple."""
    reasons = []
    if len(tail) < min_requests:
        return False, [f"only {len(tail)} requests in the settled part of the outage: too few to judge"]
    answered = [s for s in tail if s.status is not None]
    if expect.mode == "down":
        if answered:
            reasons.append(f"{len(answered)} of {len(tail)} requests were still answered "
                           f"(statuses {sorted({s.status for s in answered})})")
        if holders_during:
            reasons.append(f"{'+'.join(holders_during)} still holds the VIP")
        return not reasons, reasons
    if len(holders_during) != 1:
        reasons.append("no LB holds the VIP" if not holders_during
                       else f"several LBs hold the VIP: {'+'.join(holders_during)}")
    elif holders_during[0] not in expect.lbs_alive:
        reasons.append(f"the VIP is on {holders_during[0]}, which is down")
    elif expect.keeper and holders_during[0] != expect.keeper:
        reasons.append(f"the VIP moved from {expect.keeper} to {holders_during[0]} though {expect.keeper} was up")
    unanswered = len(tail) - len(answered)
    if unanswered:
        reasons.append(f"{unanswered} of {len(tail)} requests got no answer")
    if expect.mode == "503":
        other = [s.status for s in answered if s.status != 503]
        if other:
            reasons.append(f"{len(other)} answers were not 503 (e.g. {other[0]})")
        return not reasons, reasons
    bad = [s.status for s in answered if not 200 <= s.status < 300]
    if bad:
        reasons.append(f"{len(bad)} answers were not 2xx (e.g. {bad[0]})")
    wrong = sorted({s.server or "?" for s in answered if 200 <= s.status < 300 and s.server not in expect.webs_alive})
    if wrong:
        reasons.append(f"served by {', '.join(wrong)}, expected only {', '.join(expect.webs_alive)}")
    return not reasons, reasons


def tail_seconds(duration):
    """How much of the end of the outage is judged: 30 % of it, between 0.5 and 1.5 s."""
    return max(0.5, min(1.5, duration * 0.3))


# ---- one run ------------------------------------------------------------------------------------

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


def execute(plan, fleet, progress=None, preflight=True):
    """Run one scenario of `plan` with connections from `fleet`: a Record (its .report is the JSON)."""
    say = progress or (lambda message: None)
    inventory = plan.inventory
    lb_names = [lb.name for lb in inventory.lbs()]
    if preflight:
        healthy, problems, _ = wait_healthy(inventory, fleet, PREFLIGHT_BOUND)
        if not healthy:
            raise HostError(f"the cluster is not healthy before the outage: {'; '.join(problems[:3])}")
    restore_budget = RESTORE_BOUND + SETTLE + 10 if plan.restore else 1.0
    seconds = BASELINE + plan.duration + restore_budget + 5
    holds = loadlib.lab_vip_check(inventory) if plan.where == "lab" else loadlib.ssh_vip_check(inventory, fleet)
    watcher = loadlib.VipWatcher(lb_names, holds, interval=0.05, max_seconds=seconds + 5)
    load = loadlib.Load(plan.prober, inventory.cluster["vip"], rate=plan.rate, timeout=1.0, max_seconds=seconds)
    interval = 1.0 / plan.rate
    watcher.start()
    t_start = time.monotonic()
    load.start()
    broke, restored, t_healthy, restore_problems = [], False, None, []
    t_break = t_broken = t_restore = None
    healed = []
    try:
        time.sleep(BASELINE)
        t_break = time.monotonic()
        say(f"outage: {plan.name}: breaking {', '.join(plan.hosts)}")
        errors = _each(plan.hosts, lambda n: (broke.append(n), break_host(plan, fleet, n)))
        t_broken = time.monotonic()
        if errors:
            raise HostError("; ".join(errors))
        time.sleep(max(0.0, t_break + plan.duration - time.monotonic()))
        healed = self_healed(plan, fleet)
        t_restore = time.monotonic()
    finally:
        t_restore = t_restore or time.monotonic()
        t_broken = t_broken or t_restore
        t_break = t_break or t_restore
        if plan.restore and broke:
            say(f"outage: {plan.name}: restoring")
            errors = restore_all(plan, fleet, broke, watcher)
            if errors:
                restore_problems = errors
            else:
                restored, restore_problems, took = wait_healthy(inventory, fleet, RESTORE_BOUND, load)
                if restored:
                    t_healthy = time.monotonic()
                    say(f"outage: {plan.name}: healthy again {t_healthy - t_restore:.1f} s after the restore "
                        f"began")
                    time.sleep(SETTLE)
        samples = load.stop()
        watch = watcher.stop()
        t_end = time.monotonic()
    record = Record(plan.name, samples, watch, lb_names, t_start, t_break, t_broken, t_restore, t_healthy,
                    t_end, interval, {})
    record.report = report(plan, record, healed, restored, restore_problems)
    return record


def restore_all(plan, fleet, names, watcher, wait_vip=5.0):
    """Restore the webs at once, then the LBs one by one in inventory order, letting each take the VIP
    when nobody holds it (so the first LB of hosts.yaml holds it after all LBs were down, every time)."""
    lbs = {lb.name for lb in plan.inventory.lbs()}
    errors = _each([n for n in names if n not in lbs], lambda n: restore_host(plan, fleet, n))
    for name in [n for n in plan.inventory.hosts if n in names and n in lbs]:
        errors += _each([name], lambda n: restore_host(plan, fleet, n))
        deadline = time.monotonic() + wait_vip
        while not watcher.holders_now() and time.monotonic() < deadline:
            time.sleep(0.05)
    return errors


def _each(names, action):
    """Run action(name) for every name at once; the one-line errors of those that failed."""
    errors = []

    def one(name):
        try:
            action(name)
        except Exception as exc:  # noqa: BLE001 - reported, the others go on
            errors.append(str(exc))
    threads = [threading.Thread(target=one, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def report(plan, record, healed, restored, restore_problems):
    """The contract's outage object (+ extra fields) from a Record."""
    inventory = plan.inventory
    timeline = loadlib.holder_timeline(record.watch, record.lb_names)
    before = loadlib.holder_at(timeline, record.t_break)
    tail = tail_seconds(plan.duration)
    during = loadlib.dominant_holder(timeline, record.t_restore - tail, record.t_restore)
    after = loadlib.holder_at(timeline, record.t_end)
    expect = expectation(inventory, plan.hosts, loadlib.holder_name(before), healed)
    outage_samples = loadlib.between(record.samples, record.t_break, record.t_restore)
    # judged: what clients saw before the restore began (a request still waiting then and answered
    # afterwards says nothing about the outage)
    tail_samples = [s for s in loadlib.between(record.samples, record.t_restore - tail, record.t_restore)
                    if s.status is None or s.sent + s.latency <= record.t_restore]
    held, reasons = judge(expect, tail_samples, during)
    restore_samples = loadlib.between(record.samples, record.t_restore)
    moved = loadlib.first_change_after(timeline, record.t_break, before)
    moved = moved if moved is not None and moved < record.t_restore else None
    restore = loadlib.summarize(restore_samples, record.interval)
    restore.update({"seconds": round(record.t_healthy - record.t_restore, 2) if record.t_healthy else None,
                    "problems": restore_problems[:5]})
    return {
        "scenario": plan.name,
        "hosts": list(plan.hosts),
        "kind": plan.kind,
        "expected": expect.text,
        "ok": held and (restored or not plan.restore),
        "held": held,
        "reasons": reasons + expect.notes,
        "probe": loadlib.summarize(outage_samples, record.interval),
        "vip_holder": {"before": loadlib.holder_name(before), "during": loadlib.holder_name(during),
                       "after": loadlib.holder_name(after)},
        "restored": restored,
        "vip_moved_ms": round((moved - record.t_break) * 1000, 1) if moved else None,
        "restore": restore,
        "baseline": loadlib.summarize(loadlib.between(record.samples, record.t_start, record.t_break),
                                      record.interval),
        "duration_s": plan.duration,
        "rate": plan.rate,
        "judged_last_s": tail,
        "break_s": round(record.t_broken - record.t_break, 3),
        "load_max_lag_ms": loadlib.max_lag_ms(record.samples),
    }


def run(inventory_path, hosts, kind="service", duration=DEFAULT_DURATION, rate=DEFAULT_RATE, restore=True,
        ssh_config=None, progress=None):
    """prepare + connect + execute: the Record of one outage."""
    plan = prepare(inventory_path, hosts, kind, duration, rate, restore, ssh_config)
    fleet = Fleet(plan.ssh_config)
    try:
        return execute(plan, fleet, progress)
    finally:
        fleet.close()


# ---- text ---------------------------------------------------------------------------------------

def text(report):
    """A few lines for a person."""
    probe = report["probe"]
    verdict = "held" if report["held"] else "NOT held"
    lines = [f"{report['scenario']}: {verdict} - expected: {report['expected']}"]
    served = ", ".join(f"{k} {v}" for k, v in probe["served_by"].items()) or "nobody"
    statuses = ", ".join(f"{k}: {v}" for k, v in probe["statuses"].items()) or "none"
    errors = ", ".join(f"{k}: {v}" for k, v in probe.get("errors", {}).items())
    lines.append(f"  during the outage: {probe['requests']} requests, {probe['failed']} failed, "
                 f"longest failure window {probe['window_ms']:g} ms; served by {served}; statuses {statuses}"
                 + (f"; no answer {errors}" if errors else ""))
    vip = report["vip_holder"]
    moved = f" (moved {report['vip_moved_ms']:g} ms after the break)" if report.get("vip_moved_ms") else ""
    lines.append(f"  VIP holder: before {vip['before'] or 'nobody'}, during {vip['during'] or 'nobody'}, "
                 f"after {vip['after'] or 'nobody'}{moved}")
    restore = report.get("restore", {})
    if report["restored"]:
        lines.append(f"  restored: healthy after {restore.get('seconds')} s; {restore.get('requests')} requests, "
                     f"{restore.get('failed')} failed, longest failure window {restore.get('window_ms'):g} ms")
    elif restore.get("problems"):
        lines.append(f"  NOT restored: {'; '.join(restore['problems'])}")
    else:
        lines.append("  not restored (--no-restore): the hosts stay broken")
    for reason in report.get("reasons", []):
        lines.append(f"  - {reason}")
    return "\n".join(lines)
