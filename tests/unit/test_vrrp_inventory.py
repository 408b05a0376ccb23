"""cluster.vrrp (multicast | unicast) and N load balancers in hosts.yaml, and the drill's scenario list
built from the inventory (issue 15)."""

import pytest

from hafab.cluster import inventory
from hafab.engine.errors import EXIT_BAD_INPUT, InputError
from hafab.outage import drill

BASE = """\
cluster:
  vip: 192.168.50.10
  subnet: 192.168.50.0/24
  interface: eth1
  virtual_router_id: 51
{vrrp}hosts:
{lbs}  web1: {{address: 192.168.50.21, roles: [web]}}
  web2: {{address: 192.168.50.22, roles: [web]}}
"""


def hosts_yaml(vrrp=None, lbs=((101, "192.168.50.11"), (100, "192.168.50.12"))):
    lines = "".join(f"  hap{i}: {{address: {address}, roles: [lb], priority: {priority}}}\n"
                    for i, (priority, address) in enumerate(lbs, 1))
    return BASE.format(vrrp="" if vrrp is None else f"  vrrp: {vrrp}\n", lbs=lines)


def load(tmp_path, text):
    path = tmp_path / "hosts.yaml"
    path.write_text(text)
    return inventory.load(str(path))


@pytest.mark.parametrize("vrrp,expected", [(None, "multicast"), ("multicast", "multicast"), ("unicast", "unicast")])
def test_vrrp_values(tmp_path, vrrp, expected):
    inv = load(tmp_path, hosts_yaml(vrrp))
    assert inv.cluster["vrrp"] == expected


BAD = [
    ("vrrp-unknown-word", hosts_yaml("broadcast"),
     "hosts.yaml: cluster.vrrp: 'broadcast' must be one of multicast, unicast"),
    ("vrrp-capitalised", hosts_yaml("Unicast"), "hosts.yaml: cluster.vrrp: 'Unicast' must be one of multicast, unicast"),
    ("vrrp-boolean", hosts_yaml("true"), "hosts.yaml: cluster.vrrp: True must be one of multicast, unicast"),
    ("vrrp-empty", hosts_yaml("''"), "hosts.yaml: cluster.vrrp: '' must be one of multicast, unicast"),
    ("vrrp-list", hosts_yaml("[unicast]"), "hosts.yaml: cluster.vrrp: ['unicast'] must be one of multicast, unicast"),
    ("unicast-lb-outside-subnet", hosts_yaml("unicast", ((101, "192.168.50.11"), (100, "192.168.51.12"))),
     "hosts.yaml: hosts.hap2.address: '192.168.51.12' is not inside cluster.subnet 192.168.50.0/24"),
    ("unicast-same-priority", hosts_yaml("unicast", ((101, "192.168.50.11"), (101, "192.168.50.12"))),
     "hosts.yaml: hosts.hap2.priority: 101 is already used by hosts.hap1"),
    ("three-lbs-same-priority", hosts_yaml("unicast", ((101, "192.168.50.11"), (100, "192.168.50.12"),
                                                       (100, "192.168.50.13"))),
     "hosts.yaml: hosts.hap3.priority: 100 is already used by hosts.hap2"),
    ("multicast-same-priority", hosts_yaml("multicast", ((7, "192.168.50.11"), (7, "192.168.50.12"))),
     "hosts.yaml: hosts.hap2.priority: 7 is already used by hosts.hap1"),
]


@pytest.mark.parametrize("text,message", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_vrrp_inventories_are_refused(tmp_path, text, message):
    with pytest.raises(InputError) as info:
        load(tmp_path, text)
    assert info.value.exit_code == EXIT_BAD_INPUT
    assert str(info.value) == message


def test_three_and_four_lbs_load_in_file_order(tmp_path):
    lbs = ((101, "192.168.50.11"), (100, "192.168.50.12"), (99, "192.168.50.13"), (254, "192.168.50.14"))
    inv = load(tmp_path, hosts_yaml("unicast", lbs))
    assert [(lb.name, lb.priority) for lb in inv.lbs()] == [("hap1", 101), ("hap2", 100), ("hap3", 99), ("hap4", 254)]


# --- the drill's scenarios, from the inventory ---------------------------------------------------------

def lbs_of(count):
    return tuple((101 - i, f"192.168.50.{11 + i}") for i in range(count))


SCENARIOS = [
    ("seed-2-lbs", 2, [
        (["web1"], "service"), (["web2"], "service"), (["web1", "web2"], "service"),
        (["hap1"], "service"), (["hap2"], "service"), (["hap1", "hap2"], "service"), (["hap1"], "host")]),
    ("3-lbs", 3, [
        (["web1"], "service"), (["web2"], "service"), (["web1", "web2"], "service"),
        (["hap1"], "service"), (["hap2"], "service"), (["hap3"], "service"),
        (["hap1", "hap2", "hap3"], "service"), (["hap1"], "host")]),
    ("4-lbs", 4, [
        (["web1"], "service"), (["web2"], "service"), (["web1", "web2"], "service"),
        (["hap1"], "service"), (["hap2"], "service"), (["hap3"], "service"), (["hap4"], "service"),
        (["hap1", "hap2", "hap3", "hap4"], "service"), (["hap1"], "host")]),
    ("1-lb", 1, [
        (["web1"], "service"), (["web2"], "service"), (["web1", "web2"], "service"),
        (["hap1"], "service"), (["hap1"], "host")]),
]


@pytest.mark.parametrize("lbs,expected", [c[1:] for c in SCENARIOS], ids=[c[0] for c in SCENARIOS])
def test_drill_scenarios_follow_the_inventory(tmp_path, lbs, expected):
    inv = load(tmp_path, hosts_yaml("unicast", lbs_of(lbs)))
    assert drill.scenarios(inv) == expected


def test_drill_scenarios_follow_the_file_order_not_the_priorities(tmp_path):
    """The first LB powered off is the first in hosts.yaml, whatever its priority."""
    inv = load(tmp_path, hosts_yaml(None, ((50, "192.168.50.13"), (200, "192.168.50.11"), (100, "192.168.50.12"))))
    found = drill.scenarios(inv)
    assert found[3:] == [(["hap1"], "service"), (["hap2"], "service"), (["hap3"], "service"),
                         (["hap1", "hap2", "hap3"], "service"), (["hap1"], "host")]
