"""The lab master's and minions' configurations (hafab.lab.saltmaster, hafab.lab.saltminions): bound to
the lab bridge's own address, keys never accepted without hafab's check, roots = the export."""

import yaml
import pytest

from hafab.cluster import inventory as inventory_mod
from hafab.lab import names, saltmaster, saltminions

HOSTS_YAML = """\
cluster:
  vip: 192.168.83.10
  subnet: 192.168.83.0/24
  interface: eth1
  virtual_router_id: 83
hosts:
  hap1: {address: 192.168.83.11, roles: [lb], priority: 101}
  web1: {address: 192.168.83.21, roles: [web]}
"""


@pytest.fixture
def inventory(tmp_path):
    (tmp_path / "states").mkdir()
    (tmp_path / "states" / "top.sls").write_text("base:\n  'roles:lb':\n    - match: pillar\n  'roles:web':\n"
                                                 "    - match: pillar\n")
    (tmp_path / "hosts.yaml").write_text(HOSTS_YAML)
    return inventory_mod.load(str(tmp_path / "hosts.yaml"))


@pytest.mark.parametrize("key,value", [
    ("interface", "192.168.83.1"),
    ("auto_accept", False),
    ("open_mode", False),
    ("ipv6", False),
    ("publish_port", 4505),
    ("ret_port", 4506),
    ("file_roots", {"base": ["/x/out/file_root"]}),
    ("pillar_roots", {"base": ["/x/out/pillar"]}),
])
def test_master_config(inventory, key, value):
    config = yaml.safe_load(yaml.safe_dump(saltmaster.master_config(inventory, "/x/out")))
    assert config[key] == value


def test_master_keeps_everything_in_the_labs_data_dir(inventory):
    config = saltmaster.master_config(inventory, "/x/out")
    assert config["root_dir"] == saltmaster.master_dir(inventory)
    assert saltmaster.master_dir(inventory).startswith(names.lab_data_dir(inventory) + "/")
    assert saltmaster.command(inventory, "salt-key", "-L")[1:] == ["-c", saltmaster.config_dir(inventory), "-L"]


@pytest.mark.parametrize("host", ["hap1", "web1"])
def test_minion_config_names_the_bridge_and_the_host(inventory, host):
    config = yaml.safe_load(saltminions.minion_config(inventory, host))
    assert config["master"] == "192.168.83.1" and config["id"] == host


PEM = "-----BEGIN PUBLIC KEY-----\nAAAA\nBBBB\n-----END PUBLIC KEY-----\n"


@pytest.mark.parametrize("text", [PEM, PEM.replace("\n", "\r\n"), "\n" + PEM + "\n\n"],
                         ids=["plain", "crlf", "blank-lines"])
def test_pem_fingerprint_hashes_the_body_as_key_finger_does(text):
    import hashlib
    digest = hashlib.sha256(b"AAAA\nBBBB\n").hexdigest()
    assert saltminions.pem_fingerprint(text) == ":".join(digest[i:i + 2] for i in range(0, 64, 2))
