"""The rollout's order and drains, with fake load balancers (hafab/cluster/rollout.py)."""

import threading
import time

import pytest

from hafab.cluster import haproxy, rollout
from hafab.cluster.inventory import Host, Inventory
from hafab.engine.errors import HostError
from hafab.engine.transport import ExecResult

HEADER = "# pxname,svname,scur,status\n"


class FakeLB:
    """An LB's runtime API: `show stat` answers from `rows`; `set server` commands are recorded."""

    def __init__(self, rows):
        self.rows = rows
        self.commands = []

    def run(self, script, timeout=None):
        if "show stat" in script:
            csv = "".join(f"{px},{sv},{scur},{status}\n" for px, sv, scur, status in self.rows)
            return ExecResult(0, HEADER + csv, "")
        self.commands.append(script)
        for state, status in (("drain", "DRAIN"), ("ready", "UP")):   # HAProxy's answer to `set server`
            if f"state {state}" in script:
                self.rows = [(px, sv, scur, status if f"{px}/{sv} " in script else old)
                             for px, sv, scur, old in self.rows]
        return ExecResult(0, "", "")

    def close(self):
        pass


def make_rollout(monkeypatch, lb_rows, names=("hap1", "hap2", "web1", "web2")):
    hosts = {"hap1": Host("hap1", "10.0.0.11", ["lb"], 101), "hap2": Host("hap2", "10.0.0.12", ["lb"], 100),
             "web1": Host("web1", "10.0.0.21", ["web"]), "web2": Host("web2", "10.0.0.22", ["web"])}
    inv = Inventory("hosts.yaml", {"vip": "10.0.0.10", "interface": "eth1"}, hosts)
    lbs = {name: FakeLB(rows) for name, rows in lb_rows.items()}
    monkeypatch.setattr(rollout, "connect", lambda name, config: lbs[name])
    monkeypatch.setattr(rollout, "HEALTHY_FOR", 0.0)
    events = []
    plan = rollout.Rollout(inv, list(names), "ssh_config", lambda host, msg: events.append((host, msg)), timeout=5)
    return plan, lbs, events


UP = [(haproxy.BACKEND, "web1", "0", "UP"), (haproxy.BACKEND, "web2", "0", "UP")]


def test_a_web_is_drained_on_every_lb_and_put_back(monkeypatch):
    plan, lbs, _ = make_rollout(monkeypatch, {"hap1": UP, "hap2": UP})
    for name in ("hap1", "hap2", "web2"):
        plan.planned(name, False, {})
    plan.planned("web1", True, {})
    plan.before_change("web1")
    assert all(lb.rows[0][3] == "DRAIN" for lb in lbs.values())
    plan.finished("web1")
    assert all(lb.rows[0][3] == "UP" for lb in lbs.values())
    for lb in lbs.values():
        sent = [c for c in lb.commands if "set server" in c]
        assert len(sent) == 2 and f"{haproxy.BACKEND}/web1 state drain" in sent[0] and "state ready" in sent[1]
    assert "web1" in plan.done


def test_a_drain_that_finds_no_backend_fails_the_host(monkeypatch):
    renamed = [("www", "web1", "0", "UP"), ("www", "web2", "0", "UP")]   # the backend was renamed
    plan, _, _ = make_rollout(monkeypatch, {"hap1": UP, "hap2": renamed})
    for name in ("hap1", "hap2", "web2"):
        plan.planned(name, False, {})
    plan.planned("web1", True, {})
    with pytest.raises(HostError) as info:
        plan.before_change("web1")
    assert f"HAProxy on hap2 has no backend {haproxy.BACKEND!r}, so web1 cannot be drained" in str(info.value)
    plan.finished("web1")
    # the web group is free again: the next web server can take its turn
    plan.planned("web2", True, {})
    assert plan._may_enter("web2", "web")


@pytest.mark.parametrize("rows, note", [
    ([], None),                                              # HAProxy not running yet: no stats at all
    ([(haproxy.BACKEND, "web2", "0", "UP")], "not a server of"),  # a new web server, not in the backend yet
])
def test_an_lb_that_sends_the_web_nothing_is_left_out(monkeypatch, rows, note):
    plan, lbs, events = make_rollout(monkeypatch, {"hap1": UP, "hap2": rows})
    for name in ("hap1", "hap2", "web2"):
        plan.planned(name, False, {})
    plan.planned("web1", True, {})
    plan.before_change("web1")
    plan.finished("web1")
    assert lbs["hap1"].rows[0][3] == "UP" and len(lbs["hap1"].commands) == 2
    notes = [msg for host, msg in events if host == "web1" and "nothing to drain" in msg]
    assert (notes == [f"not a server of {haproxy.BACKEND} on hap2 yet: nothing to drain there"]) if note else not notes
    assert not [msg for _, msg in events if "did not report" in msg]


def test_the_vip_holder_waits_only_for_lbs_that_change_and_never_for_a_finished_one(monkeypatch):
    plan, _, _ = make_rollout(monkeypatch, {"hap1": UP, "hap2": UP})
    holds = plan.vip_command()
    assert plan.fact_commands("hap1")[0] == holds and plan.fact_commands("web1") == []
    plan.planned("hap1", True, {holds: 0})      # the holder will change
    plan.planned("hap2", True, {holds: 1})      # so will the other LB...
    plan.planned("web1", False, {})
    plan.planned("web2", False, {})
    entered = threading.Event()
    worker = threading.Thread(target=lambda: (plan.before_change("hap1"), entered.set()))
    worker.start()
    time.sleep(0.3)
    assert not entered.is_set()                 # ... so the holder waits for it
    plan.finished("hap2")                       # ... which ended without changing (its onchanges did not fire)
    worker.join(timeout=5)
    assert entered.is_set()


def test_a_host_never_reached_is_done(monkeypatch):
    plan, _, _ = make_rollout(monkeypatch, {"hap1": UP, "hap2": UP})
    plan.finished("hap2")                       # connect failed: planned() never came
    assert plan.registered["hap2"] == (False, False) and "hap2" in plan.done
