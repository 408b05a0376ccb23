"""Shared by the bench scripts: medians, running inv, and a lab that exists for the benchmark's length."""

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
INV = os.path.join(os.path.dirname(sys.executable), "inv")

from hafab.cluster import inventory as inventorylib  # noqa: E402
from hafab import lab  # noqa: E402


def inv(*args, check=True, timeout=1800):
    result = subprocess.run([INV, "--search-root", REPO, *args], capture_output=True, text=True,
                            cwd=REPO, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise SystemExit(f"inv {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()[-500:]}")
    return result


def timed(*args):
    start = time.perf_counter()
    inv(*args)
    return time.perf_counter() - start


def spread(values):
    """'median (min-max)' of seconds."""
    return f"{statistics.median(values):.3f} s ({min(values):.3f}-{max(values):.3f})"


def tree_copy(directory):
    """The repository's states/ and files/ copied into `directory`."""
    for name in ("states", "files"):
        shutil.copytree(os.path.join(REPO, name), os.path.join(directory, name))


def many_hosts_inventory(directory, webs, prefix="192.168.90"):
    """A copy of the project with 2 LBs and `webs` web servers on its own /24 (PREFIX.0/24)."""
    tree_copy(directory)
    lines = ["cluster:", "  name: bench", f"  vip: {prefix}.10", f"  subnet: {prefix}.0/24",
             "  interface: eth1", f"  virtual_router_id: {prefix.rsplit('.', 1)[1]}", "hosts:",
             f"  hap1: {{address: {prefix}.11, roles: [lb], priority: 101}}",
             f"  hap2: {{address: {prefix}.12, roles: [lb], priority: 100}}"]
    lines += [f"  web{i}: {{address: {prefix}.{20 + i}, roles: [web]}}" for i in range(1, webs + 1)]
    path = os.path.join(directory, "hosts.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def seed_copy(directory, prefix, edit=None):
    """hosts.yaml of a copy of the seed (states, files, hosts.yaml) on PREFIX.0/24, its VRRP router id
    the prefix's last number; `edit(text)` changes its hosts.yaml further."""
    tree_copy(directory)
    with open(os.path.join(REPO, "hosts.yaml")) as f:
        text = f.read().replace("192.168.50.", prefix + ".").replace(
            "virtual_router_id: 51", f"virtual_router_id: {prefix.rsplit('.', 1)[1]}")
    path = os.path.join(directory, "hosts.yaml")
    with open(path, "w") as f:
        f.write(edit(text) if edit else text)
    return path


@contextlib.contextmanager
def own_lab(path, prefix):
    """The lab of hosts.yaml `path` (on PREFIX.0/24), brought up here and taken down at the end, even on
    failure: its inventory. SystemExit when a lab is already up on that /24: a bench never uses a lab
    someone else brought up."""
    inventory = inventorylib.load(path)
    if lab.is_up(inventory):
        raise SystemExit(f"a lab on {prefix}.0/24 is already up here: pick another --prefix")
    try:
        print(f"bringing up a lab on {prefix}.0/24...", file=sys.stderr)
        inv("lab.up", "--inventory", path)
        yield inventory
    finally:
        lab.down(inventory, progress=lambda _: None)


@contextlib.contextmanager
def provisioned_lab(hosts, prefix=None, path=None):
    """hosts.yaml path of a provisioned lab of `hosts` hosts: with hosts == 4 the seed's own lab, or a
    copy of the seed on PREFIX.0/24 when a prefix is given; else 2 LBs and hosts - 2 web servers on
    PREFIX.0/24 (default 192.168.90).

    `path`: that hosts.yaml instead (its lab is used as it is when up).
    A lab this function brings up, it also takes down.
    """
    with tempfile.TemporaryDirectory(prefix="hafab-bench-") as tmp:
        if path:
            pass
        elif hosts == 4:
            path = seed_copy(tmp, prefix) if prefix else os.path.join(REPO, "hosts.yaml")
        else:
            path = many_hosts_inventory(tmp, hosts - 2, prefix or "192.168.90")
        inventory = inventorylib.load(path)
        started_here = not lab.is_up(inventory)
        try:
            if started_here:
                print(f"bringing up a lab of {hosts} hosts and provisioning it...", file=sys.stderr)
                inv("lab.up", "--inventory", path)
            inv("provision", "--inventory", path)
            yield path
        finally:
            if started_here:
                lab.down(inventory, progress=lambda _: None)


@contextlib.contextmanager
def project_copy(path):
    """A throw-away copy of the project of hosts.yaml `path` (states, files, secrets) to edit freely;
    yields (copy's hosts.yaml, the lab's ssh_config to reach the same hosts with)."""
    inventory = inventorylib.load(path)
    with tempfile.TemporaryDirectory(prefix="hafab-bench-copy-") as tmp:
        for name in ("states", "files", ".secrets"):
            src = os.path.join(inventory.root, name)
            if os.path.exists(src):
                shutil.copytree(src, os.path.join(tmp, name))
        shutil.copy(path, os.path.join(tmp, "hosts.yaml"))
        yield os.path.join(tmp, "hosts.yaml"), lab.ssh_config_path(inventory)


def edit(root, relpath, old, new):
    file = os.path.join(root, relpath)
    with open(file) as f:
        text = f.read()
    if old not in text:
        raise SystemExit(f"{relpath}: {old!r} not found")
    with open(file, "w") as f:
        f.write(text.replace(old, new, 1))
