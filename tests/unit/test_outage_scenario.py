"""What was asked: the flags checked, the scenario's name, and what the seed's outage table promises."""

import copy
import os

import pytest

from hafab.cluster.inventory import load as load_inventory
from hafab.engine.errors import InputError
from hafab.outage import scenario

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def inventory():
    return load_inventory(os.path.join(REPO, "hosts.yaml"))


def test_check_request_orders_the_hosts_and_reads_numbers(inventory):
    assert scenario.check_request(inventory, ["web2", "web1"], "service", "5", "200") == \
        (["web1", "web2"], "service", 5.0, 200.0)


@pytest.mark.parametrize("hosts,kind,duration,rate,where", [
    (["web9"], "service", 5, 200, "hosts.yaml"), ([], "service", 5, 200, "--host"),
    (["web1"], "reboot", 5, 200, "--kind"), (["web1"], "service", 0, 200, "--duration"),
    (["web1"], "service", 5, 0, "--rate"), (["web1"], "service", "x", 200, "--duration/--rate")])
def test_check_request_refuses(inventory, hosts, kind, duration, rate, where):
    with pytest.raises(InputError) as err:
        scenario.check_request(inventory, hosts, kind, duration, rate)
    assert err.value.where == where


def test_check_request_refuses_a_host_with_nothing_to_break(inventory):
    roleless = copy.deepcopy(inventory)
    roleless.hosts["web1"].roles = []
    with pytest.raises(InputError, match="hosts.web1.roles: no lb or web role"):
        scenario.check_request(roleless, ["web1"], "service", 5, 200)


@pytest.mark.parametrize("hosts,kind,name", [
    (["web1"], "service", "web1 down"), (["hap1", "hap2"], "service", "hap1+hap2 down"),
    (["hap1"], "host", "hap1 down (host)")])
def test_scenario_names(hosts, kind, name):
    assert scenario.scenario_name(hosts, kind) == name


# The seed's table, line by line: (broken, VIP holder before, healed) -> the Expectation.
EXPECTATIONS = [
    ("web1 down", ["web1"], "hap1", (), scenario.Expectation(
        "hap1 keeps the VIP and every request served by web2", "served", ["hap1", "hap2"], ["web2"], "hap1")),
    ("web2 down", ["web2"], "hap1", (), scenario.Expectation(
        "hap1 keeps the VIP and every request served by web1", "served", ["hap1", "hap2"], ["web1"], "hap1")),
    ("both webs down: 503", ["web1", "web2"], "hap1", (), scenario.Expectation(
        "hap1 keeps the VIP; every request answered 503 Service Unavailable (no web server left)", "503",
        ["hap1", "hap2"], [], "hap1")),
    ("hap1 down: the VIP moves to hap2", ["hap1"], "hap1", (), scenario.Expectation(
        "the VIP is on hap2 and service goes on", "served", ["hap2"], ["web1", "web2"], None)),
    ("hap2 down: hap1 keeps it", ["hap2"], "hap1", (), scenario.Expectation(
        "hap1 keeps the VIP and service goes on", "served", ["hap1"], ["web1", "web2"], "hap1")),
    # after "hap1 down" with nopreempt hap2 keeps the VIP; breaking hap2 then moves it to hap1
    ("backup down while it holds the VIP", ["hap2"], "hap2", (), scenario.Expectation(
        "the VIP is on hap1 and service goes on", "served", ["hap1"], ["web1", "web2"], None)),
    ("both LBs down: service down", ["hap1", "hap2"], "hap1", (), scenario.Expectation(
        "service down: no load balancer left to answer on the VIP", "down", [], ["web1", "web2"], None)),
    ("an LB and a web down", ["hap1", "web1"], "hap1", (), scenario.Expectation(
        "the VIP is on hap2 and service goes on, served by web2", "served", ["hap2"], ["web2"], None)),
    ("killed webs restarted by systemd count as up", ["web1", "web2"], "hap1", ["web1", "web2"],
     scenario.Expectation("hap1 keeps the VIP and every request served by web1 or web2", "served",
                          ["hap1", "hap2"], ["web1", "web2"], "hap1",
                          ["web1 came back by itself (systemd restarted it)",
                           "web2 came back by itself (systemd restarted it)"])),
    # a killed LB's haproxy came back, but the VIP may have gone to hap2 meanwhile: hap1 is not a keeper
    ("a killed LB restarted by systemd keeps nothing", ["hap1"], "hap1", ["hap1"], scenario.Expectation(
        "one of hap1, hap2 holds the VIP and service goes on", "served", ["hap1", "hap2"], ["web1", "web2"], None,
        ["hap1 came back by itself (systemd restarted it)"])),
]


@pytest.mark.parametrize("broken,before,healed,expected", [row[1:] for row in EXPECTATIONS],
                         ids=[row[0] for row in EXPECTATIONS])
def test_expectation(inventory, broken, before, healed, expected):
    assert scenario.expectation(inventory, broken, before, healed) == expected
