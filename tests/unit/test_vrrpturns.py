"""An LB's VRRP state around its turn (hafab/cluster/vrrpturns.py): settled after its keepalived.conf
changed, and held in FAULT while a VRRP mode switch goes round, so the VIP never moves (issue 15)."""

import os
import subprocess
import time

import pytest

from hafab.cluster import keepalived, rollout, vrrpturns
from hafab.cluster.inventory import Host, Inventory
from hafab.engine.errors import HostError
from hafab.engine.transport import ExecResult

LIVE = {True: 0, False: 1}   # unicast_live_command's exit status when the live keepalived.conf is unicast


def inventory(vrrp="unicast", lbs=2):
    hosts = {f"hap{i}": Host(f"hap{i}", f"10.0.0.{10 + i}", ["lb"], 102 - i) for i in range(1, lbs + 1)}
    return Inventory("hosts.yaml", {"vip": "10.0.0.10", "interface": "eth1", "timings": "tuned", "vrrp": vrrp},
                     hosts)


# --- settling --------------------------------------------------------------------------------------------

class SettlingLB:
    """Answers keepalived.settle_command() like an LB reloaded at `t0` whose instance went through
    `transitions` [(seconds after t0, state)], its keepalived.conf's identity `config`."""

    def __init__(self, transitions, config="4711.1796161000"):
        self.t0, self.transitions, self.config = time.time(), transitions, config
        self.asked = 0

    def run(self, script, timeout=None):
        assert script == keepalived.settle_command()
        self.asked += 1
        now = time.time()
        landed = [(self.t0 + at, state) for at, state in self.transitions if self.t0 + at <= now]
        state, epoch = landed[-1][::-1] if landed else ("MASTER", self.t0 - 600)
        return ExecResult(0, f"{state} {epoch:.6f} {now:.6f} {self.config}\n", "")


def settle(monkeypatch, lb, config_before="4710.1796160000"):
    """VrrpTurns.settle("hap1") after hap1's turn came with keepalived.conf's identity `config_before`."""
    events = []
    turns = vrrpturns.VrrpTurns(inventory(), lambda host, msg: events.append((host, msg)), lambda name: lb)
    turns.configs = {"hap1": config_before}
    monkeypatch.setattr(vrrpturns, "TRANSITION_GRACE", 0.1)
    started = time.time()
    turns.settle("hap1")
    return time.time() - started, events


def test_a_replaced_instance_is_waited_for_until_it_took_the_vip_and_settled(monkeypatch):
    lb = SettlingLB([(0.05, "BACKUP"), (0.4, "MASTER")])   # multicast <-> unicast: BACKUP (init), then MASTER
    waited, events = settle(monkeypatch, lb)
    assert waited >= 0.4 + keepalived.SETTLE_SECONDS["tuned"] - 0.05
    assert events == [("hap1", "VRRP settled: MASTER for 1 s")]


def test_an_lb_whose_keepalived_conf_this_run_did_not_write_is_not_waited_for(monkeypatch):
    lb = SettlingLB([(0.05, "BACKUP")], config="4710.1796160000")
    waited, _ = settle(monkeypatch, lb, config_before="4710.1796160000")
    assert lb.asked == 1 and waited < 0.1


def test_an_lb_that_never_settles_is_given_up_on_with_a_note(monkeypatch):
    monkeypatch.setattr(vrrpturns, "VRRP_WAIT", 0.6)
    lb = SettlingLB([(t / 10, "BACKUP" if t % 2 else "MASTER") for t in range(1, 30)])
    _, events = settle(monkeypatch, lb)
    assert events and "VRRP still" in events[0][1] and "going on" in events[0][1]


@pytest.mark.parametrize("output,expected", [
    ("MASTER 100.5 101.0 4711.90\n", ("MASTER", 0.5, "4711.90")),
    ("x 0 101.0 4711.90\n", (None, float("inf"), "4711.90")),
    ("x 0 101.0 -\n", (None, float("inf"), "-")),
    ("", (None, float("inf"), None)),
    ("BACKUP nonsense 101.0 4711.90\n", (None, float("inf"), None)),
])
def test_parse_settle(output, expected):
    assert keepalived.parse_settle(output) == expected


@pytest.mark.parametrize("state_file,config,expected", [
    ("MASTER 1796161000.25 VI_1 101\n", True, ("MASTER", "1796161000.25", True)),
    (None, True, ("x", "0", True)),
    (None, False, ("x", "0", False)),
])
def test_settle_command_in_a_shell(tmp_path, state_file, config, expected):
    """The command run by sh, with the state file and config paths moved under tmp_path."""
    state_path, config_path = tmp_path / "state", tmp_path / "keepalived.conf"
    if state_file is not None:
        state_path.write_text(state_file)
    if config:
        config_path.write_text("global_defs {}\n")
    command = keepalived.settle_command().replace(keepalived.STATE_FILE, str(state_path)) \
        .replace(keepalived.CONFIG, str(config_path))
    out = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=10).stdout.split()
    state, epoch, now, identity = out
    assert (state, epoch) == expected[:2] and abs(float(now) - time.time()) < 5
    if expected[2]:
        st = os.stat(config_path)
        assert identity == f"{st.st_ino}.{int(st.st_mtime)}"
    else:
        assert identity == "-"


# --- holding during a VRRP mode switch ---------------------------------------------------------------------

class ModeLB:
    """An LB that logs the hold commands it runs (into the shared `log`) and answers settle_command()
    with a settled state; its keepalived.conf identity changes when `rewrite()` is called (its run)."""

    def __init__(self, name, log):
        self.name, self.log, self.config, self.held = name, log, 1, False

    def run(self, script, timeout=None):
        if script == keepalived.settle_command():
            state = "FAULT" if self.held else "BACKUP"
            return ExecResult(0, f"{state} 0 100 4711.{self.config}\n", "")
        if script == keepalived.hold_command():
            self.held = True
        elif script == keepalived.release_command():
            self.held = False
        else:
            return ExecResult(0, "", "")
        self.log.append((self.name, "hold" if self.held else "release"))
        return ExecResult(0, "", "")

    def rewrite(self):
        self.config += 1
        self.log.append((self.name, "run"))

    def close(self):
        pass


def mode_rollout(monkeypatch, live_unicast, holding=("hap1",), vrrp="unicast", held=(), lbs=2):
    """A rollout of `lbs` LBs that all change; live_unicast: which of them run a unicast keepalived.conf."""
    inv = inventory(vrrp, lbs)
    log, events = [], []
    fakes = {name: ModeLB(name, log) for name in inv.hosts}
    monkeypatch.setattr(rollout, "connect", lambda name, config: fakes[name])
    monkeypatch.setattr(vrrpturns, "TRANSITION_GRACE", 0.0)
    plan = rollout.Rollout(inv, list(inv.hosts), "ssh_config", lambda host, msg: events.append((host, msg)),
                           timeout=5)
    for name in inv.hosts:
        plan.planned(name, True, {plan.vip_command(): 0 if name in holding else 1,
                                  keepalived.unicast_live_command(): LIVE[name in live_unicast],
                                  keepalived.held_command(): 0 if name in held else 1})
    return plan, fakes, log, events


def roll(plan, fakes):
    """Each LB's turn in the rollout's order, its run rewriting keepalived.conf, as the engine would."""
    while len(plan.done) < len(fakes):
        name = next(h for h in sorted(fakes) if h not in plan.done and plan._may_enter(h, "lb"))
        plan.before_change(name)
        fakes[name].rewrite()
        plan.finished(name)


@pytest.mark.parametrize("vrrp,live_unicast,lbs,expected", [
    ("unicast", (), 2, ("multicast", "unicast")),
    ("unicast", ("hap1",), 2, ("multicast", "unicast")),           # an earlier switch was interrupted
    ("unicast", ("hap1", "hap2"), 2, None),
    ("multicast", ("hap1", "hap2"), 2, ("unicast", "multicast")),
    ("multicast", (), 2, None),
    ("unicast", (), 1, None),                                       # one LB: unicast renders no peer
])
def test_a_switch_is_an_lb_running_another_mode_than_hosts_yaml_asks_for(monkeypatch, vrrp, live_unicast, lbs,
                                                                        expected):
    plan, *_ = mode_rollout(monkeypatch, live_unicast, vrrp=vrrp, lbs=lbs)
    assert plan.vrrp.switch() == expected


def test_fact_commands_ask_each_lb_its_live_mode_and_hold(monkeypatch):
    plan, *_ = mode_rollout(monkeypatch, ())
    commands = plan.fact_commands("hap1")
    assert keepalived.unicast_live_command() in commands and keepalived.held_command() in commands


@pytest.mark.parametrize("lbs,holding,expected", [
    (2, ("hap1",), [("hap2", "hold"), ("hap2", "run"), ("hap1", "run"), ("hap2", "release")]),
    (2, ("hap2",), [("hap1", "hold"), ("hap1", "run"), ("hap2", "run"), ("hap1", "release")]),
    (3, ("hap1",), [("hap2", "hold"), ("hap2", "run"), ("hap3", "hold"), ("hap3", "run"), ("hap1", "run"),
                    ("hap2", "release"), ("hap3", "release")]),
])
def test_during_a_switch_the_lbs_before_the_holder_are_held_until_it_has_switched(monkeypatch, lbs, holding,
                                                                                 expected):
    plan, fakes, log, events = mode_rollout(monkeypatch, (), holding=holding, lbs=lbs)
    roll(plan, fakes)
    assert log == expected
    assert not any(lb.held for lb in fakes.values())
    holder = holding[0]
    assert all(f"until {holder}, which holds the VIP, has switched" in msg
               for host, msg in events if "held in FAULT" in msg)
    assert [host for host, msg in events if msg == "VRRP hold released"] == sorted(set(fakes) - {holder})


@pytest.mark.parametrize("case,live_unicast,holding", [
    ("no switch", ("hap1", "hap2"), ("hap1",)),
    ("no VIP holder (a fresh cluster)", (), ()),
])
def test_nobody_is_held_without_a_switch_or_without_a_holder_to_keep(monkeypatch, case, live_unicast, holding):
    plan, fakes, log, _ = mode_rollout(monkeypatch, live_unicast, holding=holding)
    roll(plan, fakes)
    assert [action for _, action in log] == ["run", "run"], case


def test_a_hold_left_by_an_interrupted_run_is_released_at_the_end(monkeypatch):
    plan, fakes, log, events = mode_rollout(monkeypatch, ("hap1", "hap2"), held=("hap2",))
    fakes["hap2"].held = True
    roll(plan, fakes)
    assert log[-1] == ("hap2", "release") and not fakes["hap2"].held
    assert ("hap2", "VRRP settled: BACKUP for 1 s") in events


def test_a_run_that_ends_before_the_holder_leaves_releases_its_holds_on_close(monkeypatch):
    plan, fakes, log, _ = mode_rollout(monkeypatch, ())
    plan.before_change("hap2")
    plan.finished("hap2")
    assert fakes["hap2"].held           # hap1, the holder, is still to come
    plan.close()                        # the run stopped here (interrupted, or hap1 failed before its turn)
    assert log[-1] == ("hap2", "release") and not fakes["hap2"].held


@pytest.mark.parametrize("config,unicast", [
    ("vrrp_instance VI_1 {\n    unicast_src_ip 10.0.0.11\n    unicast_peer {\n        10.0.0.12\n    }\n}\n", True),
    ("vrrp_instance VI_1 {\n    # cluster.vrrp multicast: no unicast_peer here\n}\n", False),
    (None, False),
])
def test_unicast_live_command_in_a_shell(tmp_path, config, unicast):
    path = tmp_path / "keepalived.conf"
    if config is not None:
        path.write_text(config)
    command = keepalived.unicast_live_command().replace(keepalived.CONFIG, str(path))
    assert (subprocess.run(["sh", "-c", command], timeout=10, capture_output=True).returncode == 0) == unicast


def test_hold_release_and_held_commands_in_a_shell(tmp_path):
    path = str(tmp_path / "hold")
    sh = lambda command: subprocess.run(["sh", "-c", command.replace(keepalived.HOLD_FILE, path)], timeout=10,
                                        capture_output=True).returncode
    assert sh(keepalived.held_command()) != 0
    assert sh(keepalived.hold_command()) == 0 and open(path).read() == "1\n"
    assert sh(keepalived.held_command()) == 0 and not os.path.exists(path + ".tmp")
    assert sh(keepalived.release_command()) == 0 and sh(keepalived.held_command()) != 0
    assert sh(keepalived.release_command()) == 0          # releasing twice is fine


class ReadOnlyRunLB(ModeLB):
    """An LB whose /run refuses the hold file (the commands exit 1 with sh's message)."""

    def run(self, script, timeout=None):
        if script in (keepalived.hold_command(), keepalived.release_command()):
            return ExecResult(1, "", "sh: 1: cannot create /run/hafab-vrrp-hold.tmp: Read-only file system\n")
        return super().run(script, timeout)


def test_a_hold_that_cannot_be_written_fails_that_lb_before_it_changes(monkeypatch):
    plan, fakes, log, _ = mode_rollout(monkeypatch, ())
    fakes["hap2"].__class__ = ReadOnlyRunLB
    with pytest.raises(HostError) as err:
        plan.before_change("hap2")
    assert str(err.value) == ("hap2: holding its VRRP state for the mode switch (/run/hafab-vrrp-hold) failed: "
                              "sh: 1: cannot create /run/hafab-vrrp-hold.tmp: Read-only file system")
    plan.finished("hap2")
    plan.close()   # the release fails too: a note, no exception
    assert log == []


def test_a_hold_that_cannot_be_removed_is_named_with_how_it_goes(monkeypatch):
    plan, fakes, _, events = mode_rollout(monkeypatch, ("hap1", "hap2"), held=("hap2",))
    fakes["hap2"].__class__ = ReadOnlyRunLB
    plan.close()
    assert ("hap2", "could not release its VRRP hold (removing /run/hafab-vrrp-hold failed: sh: 1: cannot create "
                    "/run/hafab-vrrp-hold.tmp: Read-only file system): it stays in FAULT until "
                    "/run/hafab-vrrp-hold is removed (the next provision does it)") in events
