"""hosts.yaml validation: every bad input is exit 2 with one line naming the file and key."""

import pytest

from hafab.cluster import inventory, minions
from hafab.engine.errors import EXIT_BAD_INPUT, InputError

SEED = """\
cluster:
  name: lay4-hap2-web2
  vip: 192.168.50.10
  subnet: 192.168.50.0/24
  interface: eth1
  virtual_router_id: 51
hosts:
  hap1:
    address: 192.168.50.11
    roles: [lb]
    priority: 101
  hap2:
    address: 192.168.50.12
    roles: [lb]
    priority: 100
  web1:
    address: 192.168.50.21
    roles: [web]
  web2:
    address: 192.168.50.22
    roles: [web]
"""

TOP = """\
base:
  '*':
    - common
  'roles:lb':
    - match: pillar
    - haproxy
  'roles:web':
    - match: pillar
    - apache
"""


def write(tmp_path, text):
    path = tmp_path / "hosts.yaml"
    path.write_text(text)
    return str(path)


def load_error(tmp_path, text):
    with pytest.raises(InputError) as info:
        inventory.load(write(tmp_path, text))
    message = str(info.value)
    assert info.value.exit_code == EXIT_BAD_INPUT
    assert "\n" not in message
    assert message.startswith("hosts.yaml")
    return message


def test_seed_loads_with_defaults(tmp_path):
    inv = inventory.load(write(tmp_path, SEED))
    assert list(inv.hosts) == ["hap1", "hap2", "web1", "web2"]
    assert inv.hosts["hap1"].priority == 101 and inv.hosts["web1"].priority is None
    assert inv.cluster["stats_password_file"] == ".secrets/stats-password"
    assert inv.cluster["preempt"] is False and inv.cluster["mode"] == "http"
    assert [h.name for h in inv.lbs()] == ["hap1", "hap2"]
    assert [h.name for h in inv.select(roles=["web"])] == ["web1", "web2"]


def test_cluster_name_defaults_to_directory(tmp_path):
    inv = inventory.load(write(tmp_path, SEED.replace("  name: lay4-hap2-web2\n", "")))
    assert inv.cluster["name"] == tmp_path.name


def test_malformed_address_exact_message(tmp_path):
    text = SEED + "  web3:\n    address: 192.168.50.300\n    roles: [web]\n"
    assert load_error(tmp_path, text) == "hosts.yaml: hosts.web3.address: '192.168.50.300' is not an IPv4 address"


@pytest.mark.parametrize("address", ["192.168.50.11/24", "web1.example", "1.2.3", 17])
def test_address_must_be_plain_ipv4(tmp_path, address):
    text = SEED.replace("address: 192.168.50.21", f"address: {address}")
    assert load_error(tmp_path, text).startswith("hosts.yaml: hosts.web1.address: ")
    assert "is not an IPv4 address" in load_error(tmp_path, text)


def test_invalid_yaml_names_the_line(tmp_path):
    message = load_error(tmp_path, SEED.replace("roles: [web]", "roles: [web", 1))
    assert message.startswith("hosts.yaml:") and "invalid YAML" in message


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n"])
def test_empty_file(tmp_path, text):
    assert load_error(tmp_path, text) == "hosts.yaml: file is empty"


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as info:
        inventory.load(str(tmp_path / "hosts.yaml"))
    assert str(info.value) == "hosts.yaml: file not found"


def test_missing_vip(tmp_path):
    assert load_error(tmp_path, SEED.replace("  vip: 192.168.50.10\n", "")) == \
        "hosts.yaml: cluster.vip: missing (required)"


def test_vip_outside_subnet(tmp_path):
    assert load_error(tmp_path, SEED.replace("vip: 192.168.50.10", "vip: 10.0.0.10")) == \
        "hosts.yaml: cluster.vip: '10.0.0.10' is not a host address inside cluster.subnet 192.168.50.0/24"


def test_vip_equal_to_a_host_address(tmp_path):
    assert load_error(tmp_path, SEED.replace("address: 192.168.50.11", "address: 192.168.50.10")) == \
        "hosts.yaml: hosts.hap1.address: '192.168.50.10' is already used by cluster.vip"


def test_duplicate_address(tmp_path):
    assert load_error(tmp_path, SEED.replace("address: 192.168.50.22", "address: 192.168.50.21")) == \
        "hosts.yaml: hosts.web2.address: '192.168.50.21' is already used by hosts.web1"


def test_missing_address(tmp_path):
    assert load_error(tmp_path, SEED.replace("    address: 192.168.50.22\n", "")) == \
        "hosts.yaml: hosts.web2.address: missing (required)"


def test_address_outside_subnet(tmp_path):
    message = load_error(tmp_path, SEED.replace("address: 192.168.50.22", "address: 192.168.51.22"))
    assert message.startswith("hosts.yaml: hosts.web2.address: '192.168.51.22' is not inside cluster.subnet")


def test_duplicate_host_is_a_duplicate_key(tmp_path):
    text = SEED + "  web1:\n    address: 192.168.50.23\n    roles: [web]\n"
    message = load_error(tmp_path, text)
    assert message.startswith("hosts.yaml:22: duplicate key 'web1'")
    assert "first defined on line 16" in message


@pytest.mark.parametrize("priority", [0, 255, -1, "high", True])
def test_priority_out_of_range(tmp_path, priority):
    assert load_error(tmp_path, SEED.replace("priority: 101", f"priority: {priority}")).startswith(
        "hosts.yaml: hosts.hap1.priority: ")


def test_priority_bounds_are_accepted(tmp_path):
    inv = inventory.load(write(tmp_path, SEED.replace("priority: 101", "priority: 254")
                               .replace("priority: 100", "priority: 1")))
    assert [h.priority for h in inv.lbs()] == [254, 1]


def test_lb_priority_required_and_unique(tmp_path):
    assert load_error(tmp_path, SEED.replace("    priority: 101\n", "")) == \
        "hosts.yaml: hosts.hap1.priority: missing (required for lb hosts)"
    assert load_error(tmp_path, SEED.replace("priority: 100", "priority: 101")) == \
        "hosts.yaml: hosts.hap2.priority: 101 is already used by hosts.hap1"


@pytest.mark.parametrize("old, new, key", [
    ("cluster:\n", "cluster:\n  colour: blue\n", "cluster.colour"),
    ("    roles: [web]\n", "    roles: [web]\n    port: 80\n", "hosts.web1.port"),
    ("hosts:\n", "extra: 1\nhosts:\n", "extra"),
])
def test_unknown_key(tmp_path, old, new, key):
    assert load_error(tmp_path, SEED.replace(old, new, 1)).startswith(f"hosts.yaml: {key}: unknown key")


@pytest.mark.parametrize("name", ["hap_1", "-web", "web.1", "web 1"])
def test_invalid_hostname(tmp_path, name):
    text = SEED.replace("  web2:", f"  '{name}':")
    assert load_error(tmp_path, text) == \
        f"hosts.yaml: hosts.{name}: {name!r} is not a valid host name (letters, digits, hyphens)"


def test_roles_must_be_a_non_empty_list(tmp_path):
    assert load_error(tmp_path, SEED.replace("roles: [web]", "roles: []", 1)) == \
        "hosts.yaml: hosts.web1.roles: must be a non-empty list of role names"


def test_unknown_role_is_checked_against_the_top_file(tmp_path):
    text = SEED + "  web3:\n    address: 192.168.50.23\n    roles: [db]\n"
    inv = inventory.load(write(tmp_path, text))
    (tmp_path / "states").mkdir()
    (tmp_path / "states" / "top.sls").write_text(TOP)
    for name in ("common", "haproxy", "apache"):
        (tmp_path / "states" / f"{name}.sls").write_text("")
    with pytest.raises(InputError) as info:
        minions.assign(inv)
    assert str(info.value) == \
        "hosts.yaml: hosts.web3.roles: role 'db' is not used by any target in states/top.sls"
    assert info.value.exit_code == EXIT_BAD_INPUT


def test_cookie_persistence_needs_http_mode(tmp_path):
    path = tmp_path / "hosts.yaml"
    path.write_text("cluster: {vip: 10.0.0.10, subnet: 10.0.0.0/24, interface: eth1, virtual_router_id: 1,"
                    " persistence: cookie, mode: tcp}\nhosts:\n  a: {address: 10.0.0.11, roles: [web]}\n")
    with pytest.raises(InputError, match="cluster.persistence: 'cookie' needs cluster.mode: http"):
        inventory.load(str(path))
