"""SSH to the hosts during an outage: one connection per host, again after it broke; actions in parallel."""

import threading
import types

import pytest

from hafab.engine.errors import HostError
from hafab.outage import fleet as fleetlib


class Remote:
    def __init__(self, name, fail_with=None):
        self.name, self.fail_with, self.closed = name, fail_with, False

    def run(self, script, timeout=300):
        if self.fail_with:
            raise self.fail_with
        return types.SimpleNamespace(exit_status=0, stdout=f"{self.name}: {script}", stderr="")

    def close(self):
        self.closed = True


@pytest.fixture
def connections(monkeypatch):
    """The Remotes transport.connect opened, in order; `failures` makes the next ones fail."""
    opened = []

    def connect(name, ssh_config, timeout=None):
        assert ssh_config == "ssh_config" and timeout == 3.0
        remote = Remote(name, connections_state["fail_run"])
        opened.append(remote)
        return remote
    connections_state = {"fail_run": None}
    monkeypatch.setattr(fleetlib.transport, "connect", connect)
    return opened, connections_state


def test_one_connection_per_host_reused(connections):
    opened, _ = connections
    fleet = fleetlib.Fleet("ssh_config")
    assert fleet.run("web1", "true").stdout == "web1: true"
    assert fleet.run("web1", "false").stdout == "web1: false"
    fleet.run("web2", "true")
    assert [r.name for r in opened] == ["web1", "web2"]
    fleet.close()
    assert all(r.closed for r in opened)


def test_a_broken_connection_is_forgotten_and_opened_again(connections):
    opened, state = connections
    fleet = fleetlib.Fleet("ssh_config")
    state["fail_run"] = HostError("web1: connection lost")
    with pytest.raises(HostError, match="connection lost"):
        fleet.run("web1", "true")
    assert opened[0].closed
    state["fail_run"] = None
    assert fleet.run("web1", "true").stdout == "web1: true"
    assert len(opened) == 2


@pytest.mark.parametrize("error,message", [
    (HostError("web1: unreachable"), "web1: unreachable"),
    (ValueError("bad ssh_config line"), "web1: SSH failed: bad ssh_config line")])
def test_connect_errors_are_one_host_error(monkeypatch, error, message):
    def connect(name, ssh_config, timeout=None):
        raise error
    monkeypatch.setattr(fleetlib.transport, "connect", connect)
    with pytest.raises(HostError) as err:
        fleetlib.Fleet("ssh_config").run("web1", "true")
    assert str(err.value) == message


def test_each_runs_at_once_and_collects_the_errors():
    barrier = threading.Barrier(3, timeout=5)   # all three must be running at the same time

    def action(name):
        barrier.wait()
        if name != "web1":
            raise HostError(f"{name}: failed")
    assert sorted(fleetlib.each(["web1", "hap1", "hap2"], action)) == ["hap1: failed", "hap2: failed"]
    assert fleetlib.each([], action) == []
