"""The lab tasks with a positional host take `--inventory FILE HOST` in either order (no optional-value
flag beside a positional argument: Invoke would call it ambiguous). The lab is down here: exit 2."""

import pytest

from tests.e2e.conftest import REPO, inv


@pytest.mark.parametrize("task", ["lab.stop", "lab.start"])
@pytest.mark.parametrize("order", ["inventory-first", "host-first"])
def test_inventory_and_host_in_either_order(tmp_path, task, order):
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text("cluster: {vip: 10.97.0.10, subnet: 10.97.0.0/24, interface: eth1, virtual_router_id: 9}\n"
                     "hosts: {web1: {address: 10.97.0.21, roles: [web]}}\n")
    args = ["--inventory", str(hosts), "web1"] if order == "inventory-first" else ["web1", "--inventory", str(hosts)]
    result = inv(task, *args, cwd=REPO)
    assert "ambiguous" not in result.stderr
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
