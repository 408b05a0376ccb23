"""The Vagrantfile: valid for Vagrant, and its machines and addresses are exactly hosts.yaml's.

Vagrant runs with VAGRANT_CHECKPOINT_DISABLE=1, a throw-away VAGRANT_HOME and dotfile path (nothing is
written to the repository or to ~/.vagrant.d) and, where possible, inside an empty network namespace
(`unshare -n`), so it cannot reach the network even by mistake. `vagrant validate` starts no VM.
"""

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from hafab.cluster import inventory

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VAGRANTFILE = os.path.join(REPO, "Vagrantfile")

pytestmark = pytest.mark.skipif(shutil.which("vagrant") is None, reason="vagrant is not installed here")


def _offline_prefix():
    """`unshare -n` when this user may create a network namespace: Vagrant then has no network at all."""
    if shutil.which("unshare") is None:
        return []
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    return ["unshare", "-n"] if probe.returncode == 0 else []


def vagrant(tmp_path, *args, hosts_file=None, provider=None):
    """Run vagrant on the repository's Vagrantfile; returns (result, machines it evaluated)."""
    machines = tmp_path / "machines.jsonl"
    if machines.exists():
        machines.unlink()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAGRANT_")}
    env.update(
        HOME=str(tmp_path),
        VAGRANT_CHECKPOINT_DISABLE="1",
        VAGRANT_HOME=str(tmp_path / "vagrant.d"),
        VAGRANT_DOTFILE_PATH=str(tmp_path / "dotvagrant"),
        VAGRANT_CWD=REPO,
        VAGRANT_NO_COLOR="1",
        HAFAB_VAGRANT_MACHINES=str(machines),
    )
    if hosts_file:
        env["HAFAB_HOSTS_FILE"] = str(hosts_file)
    if provider:
        env["VAGRANT_DEFAULT_PROVIDER"] = provider
    result = subprocess.run(_offline_prefix() + ["vagrant", *args], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    evaluated = {}
    if machines.exists():
        for line in machines.read_text().splitlines():
            machine = json.loads(line)
            evaluated[machine["name"]] = machine  # Vagrant evaluates each machine more than once
    return result, evaluated


def expected_machines(path):
    inv = inventory.load(str(path))
    return {name: host.address for name, host in inv.hosts.items()}


def test_validate_and_machines_equal_hosts_yaml(tmp_path):
    result, machines = vagrant(tmp_path, "validate", "--ignore-provider")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Vagrantfile validated successfully" in result.stdout
    expected = expected_machines(os.path.join(REPO, "hosts.yaml"))
    assert {name: m["addresses"] for name, m in machines.items()} == {n: [a] for n, a in expected.items()}
    for name, machine in machines.items():
        assert machine["hostname"] == name
        assert machine["box"] == "debian/bookworm64"
        assert machine["netmask"] == "255.255.255.0"
        assert machine["provisioners"] == 0  # hafab provisions, not Vagrant


def test_machines_follow_another_inventory(tmp_path):
    """No host list of its own: another hosts.yaml gives other machines."""
    with open(os.path.join(REPO, "hosts.yaml"), encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    data["cluster"]["subnet"] = "10.20.0.0/16"
    data["cluster"]["vip"] = "10.20.0.10"
    data["hosts"] = {
        "lb-a": {"address": "10.20.1.11", "roles": ["lb"], "priority": 150},
        "lb-b": {"address": "10.20.1.12", "roles": ["lb"], "priority": 100},
        "app-1": {"address": "10.20.2.21", "roles": ["web"]},
    }
    hosts_file = tmp_path / "other" / "hosts.yaml"
    hosts_file.parent.mkdir()
    hosts_file.write_text(yaml.safe_dump(data, sort_keys=False))
    result, machines = vagrant(tmp_path, "validate", "--ignore-provider", hosts_file=hosts_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {name: m["addresses"] for name, m in machines.items()} == {
        n: [a] for n, a in expected_machines(hosts_file).items()}
    assert {m["netmask"] for m in machines.values()} == {"255.255.0.0"}


def test_libvirt_provider_block_validates(tmp_path):
    """With the vagrant-libvirt plugin (Debian's package), the provider block itself is validated too."""
    plugins = subprocess.run(["vagrant", "plugin", "list"], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "VAGRANT_CHECKPOINT_DISABLE": "1",
                                  "VAGRANT_HOME": str(tmp_path / "vagrant.d"), "HOME": str(tmp_path)},
                             stdin=subprocess.DEVNULL)
    if "vagrant-libvirt" not in plugins.stdout:
        pytest.skip("the vagrant-libvirt plugin is not installed here")
    result, machines = vagrant(tmp_path, "validate", provider="libvirt")
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(machines) == set(expected_machines(os.path.join(REPO, "hosts.yaml")))


def test_vagrantfile_has_no_host_list_and_both_providers():
    text = open(VAGRANTFILE, encoding="utf-8").read()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "hosts.yaml" in code and "YAML.safe_load" in code
    for address in ("192.168.50.", "hap1", "web1"):
        assert address not in code, address
    assert "provider :virtualbox" in code and "provider :libvirt" in code
    assert not re.search(r"\.vm\.provision\b(?!ers)", code)  # no provisioner: hafab provisions
