"""The load on the VIP and the watcher of its holder, with fake probers and fake LBs (nothing is sent)."""

import os
import time
import types

import pytest

from hafab.cluster.inventory import load as load_inventory
from hafab.engine.errors import HostError, InputError
from hafab.outage import load

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def inventory():
    return load_inventory(os.path.join(REPO, "hosts.yaml"))


class Prober:
    """Answers 200 from web1 at once; records the addresses allowed and asked."""

    def __init__(self):
        self.allowed, self.asked = [], []

    def allow(self, addresses):
        self.allowed += addresses

    def get(self, address, path="/", timeout=None):
        self.asked.append((address, path, timeout))
        return types.SimpleNamespace(started=time.monotonic(), status=200, server="web1", latency=0.001, error="")


def test_load_checks_the_route_first_and_stops_at_max_requests():
    prober = Prober()
    traffic = load.Load(prober, "10.0.0.10", rate=1000, timeout=0.5, max_seconds=5, max_requests=20)
    assert prober.allowed == ["10.0.0.10"] and prober.asked == []
    traffic.start()
    traffic._thread.join(timeout=5)
    samples = traffic.stop()
    assert len(samples) == 20 and {(s.status, s.server) for s in samples} == {(200, "web1")}
    assert [s.sent for s in samples] == sorted(s.sent for s in samples)
    assert all(s.due is not None for s in samples)
    assert set(prober.asked) == {("10.0.0.10", "/", 0.5)}


@pytest.mark.parametrize("rate,max_seconds,where", [(0, 10, "--rate"), (load.MAX_RATE + 1, 10, "--rate"),
                                                    (100, load.MAX_SECONDS + 1, "load")])
def test_load_refuses_unbounded_settings(rate, max_seconds, where):
    with pytest.raises(InputError) as err:
        load.Load(Prober(), "10.0.0.10", rate=rate, max_seconds=max_seconds)
    assert err.value.where == where


@pytest.mark.parametrize("status,failed", [(200, False), (404, False), (503, True), (None, True)])
def test_a_failure_is_no_answer_or_5xx(status, failed):
    assert load.Sample(0.0, status, None, 0.0).failed is failed


def test_watcher_samples_each_lb_and_an_error_is_not_holding():
    def holds(name):
        if name == "hap2":
            raise HostError("hap2: unreachable")
        return True
    watcher = load.VipWatcher(["hap1", "hap2"], holds, interval=0.01, max_seconds=5).start()
    time.sleep(0.1)
    assert watcher.holders_now() == ("hap1",)
    samples = watcher.stop()
    assert {(name, held) for _, name, held in samples} == {("hap1", True), ("hap2", False)}
    assert samples == sorted(samples)


class Fleet:
    def __init__(self, stdout, exit_status=0):
        self.stdout, self.exit_status, self.calls = stdout, exit_status, []

    def run(self, name, script, timeout=10):
        self.calls.append((name, script, timeout))
        return types.SimpleNamespace(exit_status=self.exit_status, stdout=self.stdout, stderr="")


ADDR = "3: eth1    inet {ip}/24 brd 192.168.50.255 scope global eth1\\       valid_lft forever\n"


@pytest.mark.parametrize("address,holds", [("192.168.50.10", True), ("192.168.50.100", False),
                                           ("192.168.50.11", False)])
def test_ssh_vip_check_asks_the_lb(inventory, address, holds):
    fleet = Fleet(ADDR.format(ip=address))
    assert load.ssh_vip_check(inventory, fleet)("hap1") is holds
    assert fleet.calls == [("hap1", "ip -4 -o addr show dev eth1", 2)]


def test_ssh_vip_check_raises_when_ip_fails(inventory):
    with pytest.raises(HostError, match="hap1: ip addr failed"):
        load.ssh_vip_check(inventory, Fleet("", exit_status=1))("hap1")


@pytest.mark.parametrize("returncode,address,holds", [(0, "192.168.50.10", True), (0, "192.168.50.101", False),
                                                      (1, "192.168.50.10", False)])
def test_lab_vip_check_looks_into_the_lb_namespace(inventory, monkeypatch, returncode, address, holds):
    from hafab import lab
    calls = []

    def run(command, **kwargs):
        calls.append(command)
        return types.SimpleNamespace(returncode=returncode, stdout=ADDR.format(ip=address), stderr="")
    monkeypatch.setattr(lab, "host_netns", lambda inventory, name: f"ns-{name}")
    monkeypatch.setattr(load.subprocess, "run", run)
    assert load.lab_vip_check(inventory)("hap1") is holds
    assert calls == [["ip", "-n", "ns-hap1", "-4", "-o", "addr", "show"]]
