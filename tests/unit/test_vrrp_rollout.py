"""The rollout's LB order when several LBs hold the VIP (a split brain, e.g. cluster.vrrp: multicast on a
network that drops multicast, being switched to unicast): no deadlock; non-holders first, then the holders
lowest priority first, one at a time (issue 15)."""

import os
import subprocess
import time

import pytest

from hafab.cluster import keepalived, rollout
from hafab.engine.transport import ExecResult
from hafab.cluster.inventory import Host, Inventory


def make(holding, priorities=(101, 100, 99)):
    hosts = {f"hap{i}": Host(f"hap{i}", f"10.0.0.{10 + i}", ["lb"], p) for i, p in enumerate(priorities, 1)}
    inv = Inventory("hosts.yaml", {"vip": "10.0.0.10", "interface": "eth1"}, hosts)
    plan = rollout.Rollout(inv, list(hosts), "ssh_config", lambda host, msg: None, timeout=5)
    holds = plan.vip_command()
    for name in hosts:
        plan.planned(name, True, {holds: 0 if name in holding else 1})
    return plan


def order(plan):
    """Let the LBs in one at a time, as the engine's threads would: each the first that may enter."""
    found = []
    while len(found) < len(plan.registered):
        ready = [h for h in plan.registered if h not in plan.done and plan._may_enter(h, "lb")]
        assert ready, f"deadlock after {found}"
        found.append(ready[0])
        plan.inside["lb"] = ready[0]
        plan._release(ready[0], "lb")
    return found


@pytest.mark.parametrize("holding,priorities,expected", [
    (["hap1"], (101, 100, 99), ["hap2", "hap3", "hap1"]),
    (["hap1", "hap2", "hap3"], (101, 100, 99), ["hap3", "hap2", "hap1"]),
    (["hap1", "hap2"], (101, 100, 99), ["hap3", "hap2", "hap1"]),
    (["hap2", "hap3"], (50, 100, 200), ["hap1", "hap2", "hap3"]),
    (["hap1", "hap2"], (101, 100), ["hap2", "hap1"]),
])
def test_holders_go_last_lowest_priority_first(holding, priorities, expected):
    assert order(make(holding, priorities)) == expected


def test_the_highest_priority_holder_waits_for_the_other_holders():
    plan = make(["hap1", "hap2", "hap3"])
    assert not plan._may_enter("hap1", "lb") and not plan._may_enter("hap2", "lb")
    assert plan._may_enter("hap3", "lb")


# --- an LB whose keepalived.conf changed hands over once its VRRP state has settled -----------------------

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

    def close(self):
        pass


def settle(monkeypatch, lb, config_before="4710.1796160000"):
    """Rollout._settle_vrrp("hap1") after hap1's turn came with keepalived.conf's identity `config_before`."""
    hosts = {"hap1": Host("hap1", "10.0.0.11", ["lb"], 101), "hap2": Host("hap2", "10.0.0.12", ["lb"], 100)}
    inv = Inventory("hosts.yaml", {"vip": "10.0.0.10", "interface": "eth1", "timings": "tuned"}, hosts)
    events = []
    plan = rollout.Rollout(inv, list(hosts), "ssh_config", lambda host, msg: events.append((host, msg)), timeout=5)
    plan.lb_remotes = {"hap1": lb, "hap2": lb}
    plan.keepalived_configs = {"hap1": config_before}
    monkeypatch.setattr(rollout, "TRANSITION_GRACE", 0.1)
    started = time.time()
    plan._settle_vrrp("hap1")
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
    monkeypatch.setattr(rollout, "VRRP_WAIT", 0.6)
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
