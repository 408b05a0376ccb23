"""`inv verify` as a command (hafab/cli/verify.py): exit 2 on bad input or no lab with nothing sent, its help."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOSTS = """\
cluster: {vip: 10.123.0.10, subnet: 10.123.0.0/24, interface: eth1, virtual_router_id: 7}
hosts:
  hap1: {address: 10.123.0.11, roles: [lb], priority: 101}
  hap2: {address: 10.123.0.12, roles: [lb], priority: 100}
  web1: {address: 10.123.0.21, roles: [web]}
  web2: {address: 10.123.0.22, roles: [web]}
"""


def inv_verify(*args):
    return subprocess.run([sys.executable, "-m", "invoke", "verify", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.fixture
def hosts_yaml(tmp_path):
    (tmp_path / "hosts.yaml").write_text(HOSTS)
    return str(tmp_path / "hosts.yaml")


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_lab_not_up_is_exit_2_with_nothing_sent(tmp_path, hosts_yaml, extra):
    result = inv_verify("--inventory", hosts_yaml, *extra)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "the lab is not up" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / ".secrets").exists()   # verify creates no secret


@pytest.mark.parametrize("flags, words", [(["--requests", "1"], "--requests"), (["--requests", "abc"], "--requests"),
                                           (["--ssh-config", "/nonexistent/cfg"], "--ssh-config"),
                                           (["--settle", "301"], "--settle")])
def test_bad_flags_are_exit_2(hosts_yaml, flags, words):
    result = inv_verify("--inventory", hosts_yaml, *flags)
    assert result.returncode == 2 and words in result.stderr and result.stdout == ""


def test_bad_inventory_is_exit_2(tmp_path):
    (tmp_path / "hosts.yaml").write_text(HOSTS.replace("virtual_router_id: 7", "virtual_router_id: 700"))
    result = inv_verify("--inventory", str(tmp_path / "hosts.yaml"))
    assert result.returncode == 2 and "virtual_router_id" in result.stderr


def test_verify_help_describes_every_flag():
    result = subprocess.run([sys.executable, "-m", "invoke", "--help", "verify"], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    for flag in ("--json", "--requests", "--ssh-config", "--inventory", "--settle"):
        line = next(x for x in result.stdout.splitlines() if x.strip().startswith(flag))
        assert len(line.split(None, 1)) == 2, line
