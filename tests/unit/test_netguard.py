"""hafab.lab.netguard against this machine's real kernel routes: many addresses asked in one `ip -batch`
answer exactly what asking each alone answers, and a route off the lab bridge is still refused."""

import subprocess

import pytest

from hafab.engine.errors import InputError
from hafab.lab import netguard

ADDRESSES = [
    ["127.0.0.1", "127.0.0.2"],                       # loopback: dev lo, no gateway
    ["127.0.0.1", "192.0.2.77", "198.51.100.7"],      # documentation nets: the default route (or none)
    ["127.0.0.3", "127.0.0.3", "127.0.0.4"],          # a repeated address is asked once
]


@pytest.fixture
def ip_calls(monkeypatch):
    calls = []
    real = subprocess.run

    def counting(argv, *args, **kwargs):
        calls.append(argv)
        return real(argv, *args, **kwargs)

    monkeypatch.setattr(netguard.subprocess, "run", counting)
    return calls


@pytest.mark.parametrize("addresses", ADDRESSES)
def test_one_batch_answers_what_each_alone_answers(addresses, ip_calls):
    alone = {address: netguard.route_dev(address) for address in addresses}
    ip_calls.clear()
    assert netguard.route_devs(addresses) == alone
    assert len(ip_calls) == 1 and ip_calls[0][:3] == ["ip", "-j", "-batch"]


def test_lab_routes_pass_on_the_bridge_and_refuse_off_it():
    netguard.require_lab_routes(["127.0.0.1", "127.0.0.2"], "lo")
    with pytest.raises(InputError) as info:
        netguard.require_lab_routes(["127.0.0.1", "192.0.2.77"], "lo")
    assert "192.0.2.77 is routed through" in str(info.value) and "not the lab bridge lo" in str(info.value)
