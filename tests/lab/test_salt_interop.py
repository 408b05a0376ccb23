"""The states tree is real Salt (issue 9): Salt 3008.4's `salt-call --local state.apply`, given the tree
and pillar `inv salt.export` writes,
- finds nothing to change on hosts `inv provision` built (same states, same order, every result True), and
- alone provisions fresh hosts, after which `inv verify` passes and `inv provision` finds nothing to change.

Salt is installed on the hosts from the offline wheel cache (hafab.lab.saltcache; built once on this
machine with pip, the hosts have no network). HAFAB_TEST_SALT_PREFIX picks the /24 of the fresh lab.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from hafab.cluster import inventory as inventory_mod
from hafab import lab
from hafab.lab import netguard
from hafab.engine.errors import HostError
from hafab.lab import saltcache
from tests.lab.conftest import REPO, Lab, _cannot_run, inv, require_lab

pytestmark = pytest.mark.lab

SALT_PREFIX = os.environ.get("HAFAB_TEST_SALT_PREFIX", "192.168.76")
IN_HOST = "/srv/hafab"
FRESH_HOSTS_YAML = f"""\
cluster:
  name: saltfresh
  vip: {SALT_PREFIX}.10
  subnet: {SALT_PREFIX}.0/24
  interface: eth1
  virtual_router_id: 76
hosts:
  hap1: {{address: {SALT_PREFIX}.11, roles: [lb], priority: 101}}
  web1: {{address: {SALT_PREFIX}.21, roles: [web]}}
"""


@pytest.fixture(scope="module")
def salt_cache():
    if os.geteuid() != 0:
        _cannot_run("lab tests need root")
    try:
        return saltcache.ensure(progress=lambda line: print(line, file=sys.stderr))
    except HostError as exc:
        _cannot_run(f"no offline Salt wheel cache: {exc}")


@pytest.fixture(scope="module")
def fresh_lab(tmp_path_factory):
    """hap1 + web1 booted but never provisioned, on their own /24; lab.down in `finally`."""
    require_lab()
    root = tmp_path_factory.mktemp("saltfresh")
    for name in ("states", "files"):
        shutil.copytree(os.path.join(REPO, name), root / name)
    path = str(root / "hosts.yaml")
    with open(path, "w") as f:
        f.write(FRESH_HOSTS_YAML)
    inventory = inventory_mod.load(path)
    try:
        result = inv("lab.up", "--inventory", path, timeout=1800)
        assert result.returncode == 0, result.stderr
        yield Lab(path=path, inventory=inventory)
    finally:
        lab.down(inventory, progress=lambda _: None)


def ssh_argv(the_lab, host):
    netguard.require_lab_route(the_lab.address(host), lab.bridge_name(the_lab.inventory))
    return ["ssh", "-F", the_lab.ssh_config, "-o", "BatchMode=yes", host]


def export(inventory_path, out):
    result = inv("salt.export", "--inventory", inventory_path, "--out", str(out))
    assert result.returncode == 0, result.stderr
    return str(out)


def install_salt_and_tree(the_lab, host, cache, out):
    """Salt into /opt/salt from the cache, the export into /srv/hafab (0700), nothing from any network."""
    saltcache.copy_to_host(ssh_argv(the_lab, host), cache)
    done = the_lab.ssh(host, saltcache.install_command(), timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    version = the_lab.ssh(host, "/opt/salt/bin/salt-call --version").stdout
    assert f"salt-call {saltcache.SALT_VERSION}" in version, version
    tar = subprocess.Popen(["tar", "-C", out, "-cf", "-", "."], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    copied = subprocess.run([*ssh_argv(the_lab, host),
                             f"rm -rf {IN_HOST} && mkdir -m 700 -p {IN_HOST} && tar -C {IN_HOST} -xf -"],
                            stdin=tar.stdout, capture_output=True, text=True, timeout=120)
    tar.stdout.close()
    assert tar.wait(timeout=60) == 0 and copied.returncode == 0, copied.stderr


def salt_apply(the_lab, host):
    """(exit code, {state key: Salt's return}) of a masterless highstate with the export as the roots."""
    command = (f"/opt/salt/bin/salt-call --local --id {host} --file-root {IN_HOST}/file_root "
               f"--pillar-root {IN_HOST}/pillar --retcode-passthrough --out=json state.apply")
    done = the_lab.ssh(host, command, timeout=1200)
    try:
        results = json.loads(done.stdout)["local"]
    except (ValueError, KeyError):
        raise AssertionError(f"salt-call on {host}: exit {done.returncode}: {done.stdout[-2000:]} "
                             f"{done.stderr[-2000:]}") from None
    assert isinstance(results, dict), f"salt-call on {host} did not run states: {results}"
    return done.returncode, results


def in_order(results):
    return [key for key, _ in sorted(results.items(), key=lambda kv: kv[1]["__run_num__"])]


def not_true(results):
    return {key: ret["comment"] for key, ret in results.items() if ret["result"] is not True}


def with_changes(results):
    return {key: ret["changes"] for key, ret in results.items() if ret["changes"]}


def change_keys(ret, key):
    """What a state changed, comparably between Salt and hafab: packages list every package apt
    installed under Salt (dependencies too) but only the named ones under hafab, so only whether."""
    if key.startswith("pkg_|-"):
        return bool(ret["changes"])
    return sorted(ret["changes"])


def test_salt_finds_nothing_to_change_on_hosts_hafab_provisioned(cluster, salt_cache, tmp_path):
    again = cluster.inv("provision", "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    hafab_results = json.loads(again.stdout)["hosts"]
    out = export(cluster.path, tmp_path / "salt")
    for host in ("hap1", "web1"):  # one host of each role
        install_salt_and_tree(cluster, host, salt_cache, out)
        code, results = salt_apply(cluster, host)
        assert not not_true(results), (host, not_true(results))
        assert not with_changes(results), (host, with_changes(results))
        assert code == 0
        assert in_order(results) == in_order(hafab_results[host]), host


def test_salt_alone_provisions_fresh_hosts_and_hafab_agrees(fresh_lab, cluster, salt_cache, tmp_path):
    out = export(fresh_lab.path, tmp_path / "salt")
    salt_results = {}
    for host in ("hap1", "web1"):
        install_salt_and_tree(fresh_lab, host, salt_cache, out)
        code, results = salt_apply(fresh_lab, host)
        assert not not_true(results), (host, not_true(results))
        assert code == 0
        salt_results[host] = results

    # What changed on a fresh host, state by state, as hafab's own first provision of the seed cluster
    # (same states/) reported it.
    for host, results in salt_results.items():
        first = cluster.first_provision["hosts"][host]
        assert set(results) == set(first), host
        differ = {key: (change_keys(ret, key), change_keys(first[key], key)) for key, ret in results.items()
                  if change_keys(ret, key) != change_keys(first[key], key)}
        assert not differ, (host, "salt vs hafab", differ)

    # hafab finds the hosts as it would have made them, in the order Salt ran the states.
    again = inv("provision", "--inventory", fresh_lab.path, "--json", timeout=900)
    assert again.returncode == 0, again.stderr[-2000:]
    doc = json.loads(again.stdout)
    assert doc["summary"]["changed"] == 0 and doc["summary"]["failed"] == 0, \
        {h: with_changes(r) for h, r in doc["hosts"].items()}
    for host, results in salt_results.items():
        assert in_order(results) == in_order(doc["hosts"][host]), host

    # The cluster Salt built works: every check of `inv verify`, web1's among them. Salt built hap1
    # first and web1 last, so hap1's haproxy saw web1 down until then: --settle gives its health
    # checks the moment they need to see it UP (rise 2).
    verify = inv("verify", "--inventory", fresh_lab.path, "--json", "--settle", "20", timeout=600)
    report = json.loads(verify.stdout)
    failed = [c for c in report["checks"] if not c["ok"]]
    assert verify.returncode == 0 and report["ok"], failed
    web1 = {c["name"] for c in report["checks"] if c["host"] == "web1"}
    assert {"services", "web-page", "direct-blocked", "access-log"} <= web1, web1
