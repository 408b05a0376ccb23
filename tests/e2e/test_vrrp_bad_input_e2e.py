"""Bad VRRP input in hosts.yaml (issue 15): `inv provision` exits 2 with one line naming the file and key,
and opens no connection (the listener counts them)."""

import pytest

from tests.e2e.conftest import inv
from tests.e2e.test_bad_input import GOOD_HOSTS, build, listener, ssh_config  # noqa: F401 - listener is a fixture

LB2 = "  lb2: {address: 10.98.0.12, roles: [lb], priority: 100}\n  app1: {"
CASES = [
    ("vrrp-not-a-mode", {"hosts.yaml": ("  interface: eth1\n", "  interface: eth1\n  vrrp: broadcast\n")},
     "hosts.yaml: cluster.vrrp: 'broadcast' must be one of multicast, unicast"),
    ("unicast-lb-outside-subnet",
     {"hosts.yaml": GOOD_HOSTS.replace("  virtual_router_id: 9\n", "  virtual_router_id: 9\n  vrrp: unicast\n")
                              .replace("  app1: {", LB2.replace("10.98.0.12", "10.97.0.12"))},
     "hosts.yaml: hosts.lb2.address: '10.97.0.12' is not inside cluster.subnet 10.98.0.0/24"),
    ("unicast-same-priority", {"hosts.yaml": ("  app1: {", LB2.replace("priority: 100", "priority: 101"))},
     "hosts.yaml: hosts.lb2.priority: 101 is already used by hosts.lb1"),
]


@pytest.mark.parametrize("changes,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_vrrp_input_exits_2_with_one_line_and_no_connection(tmp_path, listener, changes, message):  # noqa: F811
    port, accepted = listener
    hosts = build(tmp_path, changes)
    result = inv("provision", "--inventory", str(hosts), "--ssh-config", ssh_config(tmp_path, port))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [message]
    assert accepted == [] and result.stdout == ""
