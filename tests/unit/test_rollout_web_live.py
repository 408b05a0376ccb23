"""Web servers added and removed live: the rollout's order with fake load balancers (hafab/cluster/rollout.py).

A new web server (hosts.yaml names it, the LBs' live backend does not) changes and answers on port 80
before any LB changes; a removed one (the live backend runs it, hosts.yaml does not name it) is drained on
every LB before the first LB changes, and is never contacted."""

import threading
import time

import pytest

from hafab.cluster import haproxy, keepalived, rollout
from hafab.cluster.inventory import Host, Inventory
from hafab.engine.errors import HostError
from hafab.engine.transport import ExecResult

HEADER = "# pxname,svname,scur,status\n"


class FakeLB:
    """`show stat` from `rows` (the VRRP state read answers nothing); `set server ... state drain` marks the row DRAIN and its sessions end
    (unless `sticky`); a port probe answers 0 for the addresses in `answering`. Every command is logged."""

    def __init__(self, name, rows, log, answering=(), sticky=False):
        self.name, self.rows, self.log = name, list(rows), log
        self.answering, self.sticky = set(answering), sticky

    def run(self, script, timeout=None):
        if "show stat" in script:
            return ExecResult(0, HEADER + "".join(",".join(row) + "\n" for row in self.rows), "")
        if script == keepalived.settle_command():   # a read, as `show stat`: no keepalived here
            return ExecResult(0, "", "")
        self.log.append((self.name, script))
        if "/dev/tcp/" in script:
            return ExecResult(0 if any(f"/{a}/" in script for a in self.answering) else 1, "", "")
        for state, status in (("drain", "DRAIN"), ("ready", "UP")):
            if f"state {state}" in script:
                self.rows = [(px, sv, "9" if self.sticky and state == "drain" else "0",
                              status if f"{px}/{sv} " in script else old) for px, sv, scur, old in self.rows]
        return ExecResult(0, "", "")

    def close(self):
        pass


def backend(*servers):
    return [(haproxy.BACKEND, name, "0", "UP") for name in servers]


def make(monkeypatch, webs, live, answering=("10.0.0.23",), sticky=False, run=None):
    """A Rollout over hap1, hap2 and `webs`; both LBs' live backend runs `live`."""
    hosts = {"hap1": Host("hap1", "10.0.0.11", ["lb"], 101), "hap2": Host("hap2", "10.0.0.12", ["lb"], 100)}
    hosts.update({w: Host(w, f"10.0.0.2{w[-1]}", ["web"]) for w in webs})
    inv = Inventory("hosts.yaml", {"vip": "10.0.0.10", "interface": "eth1"}, hosts)
    log, dialled = [], []
    lbs = {n: FakeLB(n, backend(*live), log, answering, sticky) for n in ("hap1", "hap2")}
    monkeypatch.setattr(rollout, "connect", lambda name, config: dialled.append(name) or lbs[name])
    monkeypatch.setattr(rollout, "HEALTHY_FOR", 0.0)
    monkeypatch.setattr(rollout, "DRAIN_WAIT", 0.5)
    events = []
    plan = rollout.Rollout(inv, list(run or hosts), "ssh_config", lambda h, m: events.append((h, m)), timeout=5)
    return plan, lbs, log, dialled, events


def lb_status(plan, live):
    """What the LB's fact commands answer when its live backend runs `live`."""
    status = {plan.vip_command(): 1}
    status.update({haproxy.new_server_command(w.name): 0 if w.name not in live else 1 for w in plan.inventory.webs()})
    return status


def in_thread(target):
    done = threading.Event()
    errors = []

    def body():
        try:
            target()
        except HostError as exc:
            errors.append(exc)
        done.set()

    threading.Thread(target=body, daemon=True).start()
    return done, errors


def test_fact_commands_ask_each_lb_which_web_servers_it_lacks(monkeypatch):
    plan, *_ = make(monkeypatch, ["web1", "web2", "web3"], ["web1", "web2"])
    commands = plan.fact_commands("hap1")
    assert commands[0] == plan.vip_command()
    assert commands[-3:] == [haproxy.new_server_command(w) for w in ("web1", "web2", "web3")]
    assert plan.fact_commands("web3") == []
    plan.planned("hap1", True, lb_status(plan, ["web1", "web2"]))
    assert plan.new_webs["hap1"] == ["web3"]


def test_a_host_both_lb_and_web_is_never_waited_for_as_a_new_web(monkeypatch):
    plan, *_ = make(monkeypatch, ["web1", "web2"], ["web1"])
    plan.inventory.hosts["hap2"] = Host("hap2", "10.0.0.12", ["lb", "web"], 100)
    plan.planned("hap1", True, lb_status(plan, ["web1"]))
    assert plan.new_webs["hap1"] == ["web2"]            # hap2 is a web too, but changes with the LBs


def test_a_new_web_changes_and_answers_before_any_lb_changes(monkeypatch):
    plan, lbs, log, _, events = make(monkeypatch, ["web1", "web2", "web3"], ["web1", "web2"])
    for lb in ("hap1", "hap2"):
        plan.planned(lb, True, lb_status(plan, ["web1", "web2"]))
    plan.planned("web1", False, {})
    plan.planned("web2", False, {})
    plan.planned("web3", True, {})
    entered, errors = in_thread(lambda: plan.before_change("hap2"))
    time.sleep(0.6)
    assert not entered.is_set()                    # hap2 waits for web3
    plan.before_change("web3")                     # web3 is not a server anywhere yet: nothing to drain
    assert not [c for _, c in log if "set server" in c]
    assert ("web3", f"new: no load balancer runs it in {haproxy.BACKEND} yet, nothing to drain") in events
    plan.finished("web3")
    assert not [c for _, c in log if "set server" in c]   # nor put back
    assert entered.wait(5) and not errors
    probes = [(lb, c) for lb, c in log if "/dev/tcp/" in c]
    assert probes == [("hap2", haproxy.port_open_command("10.0.0.23"))]
    assert ("hap2", "web3 is new and answers on port 80: adding it") in events


@pytest.mark.parametrize("answering, run, waits", [
    ((), None, True),                               # web3 ran but does not answer: hap2 refuses to add it
    ((), ["hap1", "hap2", "web1", "web2"], False),  # web3 not in this run: nobody waits, hap2 still refuses
])
def test_a_new_web_that_does_not_answer_is_not_added(monkeypatch, answering, run, waits):
    plan, *_ = make(monkeypatch, ["web1", "web2", "web3"], ["web1", "web2"], answering=answering, run=run)
    for lb in ("hap1", "hap2"):
        plan.planned(lb, True, lb_status(plan, ["web1", "web2"]))
    for web in ("web1", "web2") + (("web3",) if waits else ()):
        plan.planned(web, False, {})
    assert plan._may_enter("hap2", "lb") is not waits
    if waits:
        plan.finished("web3")
    with pytest.raises(HostError) as info:
        plan.before_change("hap2")
    assert str(info.value) == (f"hap2: web3 is new to {haproxy.BACKEND} here and does not answer on "
                               "10.0.0.23:80 from hap2: not adding it (provision web3 first)")
    plan.finished("hap2")
    assert "lb" not in plan.inside                # the next LB may take its turn


def test_a_no_op_run_waits_for_nobody_and_probes_nothing(monkeypatch):
    plan, _, log, _, _ = make(monkeypatch, ["web1", "web2", "web3"], ["web1", "web2", "web3"])
    for lb in ("hap1", "hap2"):
        plan.planned(lb, False, lb_status(plan, ["web1", "web2", "web3"]))
    for web in ("web1", "web2", "web3"):
        plan.planned(web, False, {})
    assert plan.new_webs == {"hap1": [], "hap2": []}
    for host in ("hap1", "hap2", "web1", "web2", "web3"):
        plan.finished(host)
    assert log == [] and plan.done == {"hap1", "hap2", "web1", "web2", "web3"}


@pytest.mark.parametrize("sticky, note", [
    (False, None),                                               # its sessions end at once
    (True, "HAProxy did not report it as expected in time; going on"),  # bounded: DRAIN_WAIT, then on
])
def test_a_removed_web_is_drained_on_every_lb_before_the_first_lb_changes(monkeypatch, sticky, note):
    plan, lbs, log, dialled, events = make(monkeypatch, ["web1", "web2"], ["web1", "web2", "web3"],
                                           sticky=sticky)
    plan.planned("hap1", True, {plan.vip_command(): 0})
    plan.planned("hap2", True, {plan.vip_command(): 1})
    plan.planned("web1", False, {})
    plan.planned("web2", False, {})
    plan.before_change("hap2")                     # the LB not holding the VIP goes first
    drains = [(lb, c) for lb, c in log if "state drain" in c]
    assert drains == [(lb, haproxy.runtime_command(haproxy.set_server_state("web3", "drain"), timeout=5))
                      for lb in ("hap1", "hap2")]
    assert all(dict(((sv, status) for _, sv, _, status in lb.rows))["web3"] == "DRAIN" for lb in lbs.values())
    assert ("web3", "not a web server of hosts.yaml any more: draining it on every LB") in events
    assert ((("web3", note) in events) if note else not [m for _, m in events if "did not report" in m])
    plan.finished("hap2")
    plan.before_change("hap1")                     # drained once: the holder sends nothing again
    plan.finished("hap1")
    assert len([c for _, c in log if "state drain" in c]) == 2
    assert "web3" not in dialled and set(dialled) == {"hap1", "hap2"}


def test_nothing_removed_drains_nothing(monkeypatch):
    plan, _, log, _, _ = make(monkeypatch, ["web1", "web2"], ["web1", "web2"])
    for lb in ("hap1", "hap2"):
        plan.planned(lb, True, lb_status(plan, ["web1", "web2"]))
    plan.planned("web1", False, {})
    plan.planned("web2", False, {})
    plan.before_change("hap2")
    assert log == []


@pytest.mark.parametrize("live_on, drained", [
    ({"hap1": ["web1", "web2"], "hap2": ["web1", "web2"]}, False),           # new on every LB: nothing to drain
    ({"hap1": ["web1", "web2"], "hap2": ["web1", "web2", "web3"]}, True),    # hap2 runs it already: drained
])
def test_a_web_is_drained_unless_no_lb_runs_it_yet(monkeypatch, live_on, drained):
    plan, _, log, _, _ = make(monkeypatch, ["web1", "web2", "web3"], ["web1", "web2"])
    for lb, live in live_on.items():
        plan.planned(lb, False, lb_status(plan, live))
    plan.planned("web1", False, {})
    plan.planned("web2", False, {})
    plan.planned("web3", True, {})
    plan.before_change("web3")
    plan.finished("web3")
    assert bool([c for _, c in log if "web3 state drain" in c]) is drained
