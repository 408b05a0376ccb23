"""states/top.sls: targets by host glob or role, SLS order per host, and validation against hosts.yaml."""

import pytest

from hafab.cluster import inventory, minions
from hafab.engine import top
from hafab.engine.errors import EXIT_BAD_INPUT, InputError

HOSTS = """\
cluster: {vip: 10.0.0.10, subnet: 10.0.0.0/24, interface: eth1, virtual_router_id: 7}
hosts:
  hap1: {address: 10.0.0.11, roles: [lb], priority: 101}
  hap2: {address: 10.0.0.12, roles: [lb], priority: 100}
  web1: {address: 10.0.0.21, roles: [web]}
  web2: {address: 10.0.0.22, roles: [web, lb-test]}
"""

TOP = """\
base:
  '*':
    - common
  'roles:lb':
    - match: pillar
    - haproxy
    - keepalived
  'roles:web':
    - match: grain
    - apache
  'roles:lb-*':
    - match: pillar
    - common
    - tools.debug
  'web1,hap2':
    - match: list
    - apache
"""


def make_tree(tmp_path, top_text=TOP, hosts=HOSTS, sls=("common", "haproxy", "keepalived", "apache")):
    (tmp_path / "hosts.yaml").write_text(hosts)
    states = tmp_path / "states"
    (states / "tools" / "debug").mkdir(parents=True)
    (states / "tools" / "debug" / "init.sls").write_text("")
    for name in sls:
        (states / f"{name}.sls").write_text("")
    (states / "top.sls").write_text(top_text)
    return inventory.load(str(tmp_path / "hosts.yaml"))


def error(inv):
    with pytest.raises(InputError) as info:
        minions.assign(inv)
    assert info.value.exit_code == EXIT_BAD_INPUT and "\n" not in str(info.value)
    return str(info.value)


def test_sls_per_host_in_top_order_without_duplicates(tmp_path):
    inv = make_tree(tmp_path)
    assert minions.assign(inv) == {
        "hap1": ["common", "haproxy", "keepalived"],
        "hap2": ["common", "haproxy", "keepalived", "apache"],
        "web1": ["common", "apache"],
        "web2": ["common", "apache", "tools.debug"],
    }


def test_sls_file_finds_plain_and_init(tmp_path):
    make_tree(tmp_path)
    assert top.sls_file(str(tmp_path), "common") == str(tmp_path / "states" / "common.sls")
    assert top.sls_file(str(tmp_path), "tools.debug") == str(tmp_path / "states" / "tools" / "debug" / "init.sls")
    assert top.sls_file(str(tmp_path), "nope") is None


def test_top_file_is_rendered_with_jinja(tmp_path):
    text = "base:\n{% for glob in ['hap*', 'web*'] %}\n  '{{ glob }}':\n    - common\n{% endfor %}\n" \
           "  'roles:*':\n    - match: pillar\n    - common\n"
    inv = make_tree(tmp_path, text)
    assert minions.assign(inv)["web2"] == ["common"]


def test_target_naming_a_missing_sls(tmp_path):
    inv = make_tree(tmp_path, sls=("common", "keepalived", "apache"))
    assert error(inv) == ("states/top.sls: target 'roles:lb': no SLS 'haproxy' "
                          "(states/haproxy.sls or states/haproxy/init.sls)")


def test_role_used_by_no_target(tmp_path):
    inv = make_tree(tmp_path, hosts=HOSTS + "  web3: {address: 10.0.0.23, roles: [db]}\n")
    assert error(inv) == "hosts.yaml: hosts.web3.roles: role 'db' is not used by any target in states/top.sls"


def test_host_not_matched(tmp_path):
    text = "base:\n  'hap*':\n    - common\n  'roles:lb':\n    - match: pillar\n    - common\n" \
           "  'roles:web':\n    - match: pillar\n    - common\n"
    hosts = HOSTS.replace("roles: [web, lb-test]", "roles: [web]") + \
        "  db1: {address: 10.0.0.31, roles: [web]}\n"
    inv = make_tree(tmp_path, text, hosts)
    inv.hosts["db1"].roles = []  # a host no target reaches (hosts.yaml itself requires a role)
    assert error(inv) == "hosts.yaml: hosts.db1: no target in states/top.sls matches this host"


@pytest.mark.parametrize("text, message", [
    ("prod:\n  '*': [common]\n", "states/top.sls: must be a mapping with the 'base' environment"),
    ("base:\n  '*': [common]\nprod:\n  '*': [common]\n",
     "states/top.sls: environment 'prod': only 'base' is supported"),
    ("base:\n  '*':\n    - match: compound\n    - common\n",
     "states/top.sls: target '*': match 'compound' is not supported (use one of glob, list, pillar, grain)"),
    ("base:\n  'roles':\n    - match: pillar\n    - common\n",
     "states/top.sls: target 'roles': with match: pillar the target is 'KEY:PATTERN' (a pillar or grain key, a colon, a glob)"),
    ("base:\n  '*': common\n", "states/top.sls: target '*': must be a list of SLS names"),
    ("base:\n  '*':\n    - ../etc\n", "states/top.sls: target '*': '../etc' is not an SLS name"),
    ("base: [\n", None),
])
def test_bad_top_file(tmp_path, text, message):
    inv = make_tree(tmp_path, text)
    got = error(inv)
    if message is None:
        assert got.startswith("states/top.sls:") and "invalid YAML" in got
    else:
        assert got == message


def test_missing_top_file(tmp_path):
    inv = make_tree(tmp_path)
    (tmp_path / "states" / "top.sls").unlink()
    assert error(inv) == "states/top.sls: file not found"
