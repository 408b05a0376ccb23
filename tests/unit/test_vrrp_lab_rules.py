"""`inv lab.up --no-multicast`: the nftables table it loads, checked by the real `nft -c` (nothing is
loaded), scoped to the lab's own bridge ports (issue 15)."""

import os
import shutil
import subprocess

import pytest

from hafab.cluster import inventory
from hafab.lab import multicast, names

HOSTS = """\
cluster:
  vip: {p}.10
  subnet: {p}.0/24
  interface: eth1
  virtual_router_id: 51
hosts:
  hap1: {{address: {p}.11, roles: [lb], priority: 101}}
  hap2: {{address: {p}.12, roles: [lb], priority: 100}}
  web1: {{address: {p}.21, roles: [web]}}
"""


def lab_inventory(tmp_path, prefix):
    (tmp_path / prefix).mkdir()
    path = tmp_path / prefix / "hosts.yaml"
    path.write_text(HOSTS.format(p=prefix))
    return inventory.load(str(path))


@pytest.mark.parametrize("prefix", ["192.168.89", "10.7.0"])
def test_the_table_matches_only_this_labs_ports(tmp_path, prefix):
    inv = lab_inventory(tmp_path, prefix)
    rules = multicast.ruleset(inv)
    tag = names.tag(inv)
    assert multicast.table(inv) == f"hafab_{tag}_nomcast"
    assert f'iifname "hv{tag}*" ip daddr 224.0.0.0/4 counter drop' in rules
    for host in inv.hosts:
        assert names.veth(inv, host).startswith(f"hv{tag}")  # every host's port matches the pattern
    assert "flush ruleset" not in rules and rules.count("table bridge ") == 3  # create, delete, define
    assert "hook forward" in rules and "policy accept" in rules  # only forwarding between ports, nothing else


def test_two_labs_have_two_tables(tmp_path):
    one, two = lab_inventory(tmp_path, "192.168.89"), lab_inventory(tmp_path, "192.168.88")
    assert multicast.table(one) != multicast.table(two)
    assert multicast.port_pattern(one) != multicast.port_pattern(two)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="nft -c needs root and nft")
def test_nft_accepts_the_table(tmp_path):
    candidate = tmp_path / "nomcast.nft"
    candidate.write_text(multicast.ruleset(lab_inventory(tmp_path, "192.168.89")))
    result = subprocess.run(["nft", "-c", "-f", str(candidate)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
