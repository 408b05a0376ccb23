#!/usr/bin/env python3
"""hafab's no-op beside pyinfra 3.10 and ansible-core 2.19 doing the same work on the same lab hosts.

    .venv/bin/python bench/peers.py [--runs 5] [--prefix 192.168.91] [--peers-dir /var/cache/hafab/peers]
                                    [--inventory HOSTS_YAML]

A lab of its own (the seed's 4 hosts on PREFIX.0/24, brought up, provisioned, and taken down at the end),
so the peers' runs can never touch a lab someone else uses.

Each peer is installed once into its own venv under --peers-dir (pip, by package name; nothing of theirs
is kept in this repository). The workload is the seed's, taken from hafab's own compile of hosts.yaml so
all three are asked for the same thing, per host: the packages of every pkg.installed, every
file.managed with its rendered content, owner, group and mode, every service.running (running and
enabled) and every sysctl.present. Not included (a smaller, faithful subset): cmd.run with `creates`,
file.append, file.absent. The peers run in their dry modes (pyinfra --dry, ansible-playbook --check):
they read the same state but can change nothing, so the lab is never touched by them; hafab runs its
real no-op provision (the lock taken, the run recorded), which is more work, not less. Ansible runs over
OpenSSH with ControlPersist and pipelining; a sysctl is read with `sysctl -n` (ansible.posix, which has
the sysctl module, is not part of ansible-core) and the packages with `dpkg-query -W` (the apt module's
check mode needs python3-apt on the host, which the lab's hosts do not have and a no-op must not install).

The rendered files hold the stats password: the generated trees live in a 0700 temporary directory
removed at the end. Runs alternate (hafab, pyinfra, ansible, hafab, ...) after one warm-up each; the
figures are whole-process wall and CPU seconds (user + system of the process and its children), medians,
and the ratios taken run by run.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import INV, REPO, inv, own_lab, seed_copy

from hafab import lab

from hafab.cluster import inventory as inventorylib
from hafab.cluster import minions
from hafab.engine import ssh_config as ssh_configlib

PEERS = {"pyinfra": "pyinfra==3.10.*", "ansible": "ansible-core==2.19.*"}


def install(peers_dir):
    """{name: venv bin directory}, each peer installed once into its own venv."""
    bins = {}
    for name, requirement in PEERS.items():
        venv = os.path.join(peers_dir, name)
        tool = os.path.join(venv, "bin", "pyinfra" if name == "pyinfra" else "ansible-playbook")
        if not os.path.exists(tool):
            print(f"installing {requirement} into {venv}...", file=sys.stderr)
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
            subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "--disable-pip-version-check",
                            requirement], check=True)
        bins[name] = os.path.join(venv, "bin")
    return bins


def workload(inventory):
    """host -> {"packages", "files": [{path, text, user, group, mode}], "services", "sysctls"}."""
    out = {}
    for host, states in minions.compile_hosts(inventory).items():
        work = {"packages": [], "files": [], "services": [], "sysctls": []}
        for state in states:
            prepared = state.prepared or {}
            if state.function == "pkg.installed":
                work["packages"] += prepared.get("pkgs") or [state.name]
            elif state.function == "file.managed" and prepared.get("text") is not None:
                work["files"].append({"path": state.name, "text": prepared["text"], "user": prepared["user"],
                                      "group": prepared["group"], "mode": prepared["mode"]})
            elif state.function == "service.running":
                work["services"].append(state.name)
            elif state.function == "sysctl.present":
                work["sysctls"].append({"key": state.name, "value": str(state.args["value"]),
                                        "file": state.args.get("config", "/etc/sysctl.d/99-hafab.conf")})
        out[host] = work
    return out


def addresses(ssh_config, names):
    config = ssh_configlib.load(ssh_config)
    return {name: config.settings(name) for name in names}


PYINFRA_DEPLOY = '''
import json
from pyinfra import host
from pyinfra.operations import apt, files, server, systemd

work = json.load(open(host.data.workload_file))[host.name]
apt.packages(name="packages", packages=work["packages"], present=True)
for f in work["files"]:
    files.put(name=f["path"], src=f["src"], dest=f["path"], user=f["user"], group=f["group"], mode=f["mode"])
for s in work["sysctls"]:
    server.sysctl(name=s["key"], key=s["key"], value=int(s["value"]) if s["value"].isdigit() else s["value"],
                  persist=True, persist_file=s["file"])
for name in work["services"]:
    systemd.service(name=name, service=name, running=True, enabled=True)
'''

ANSIBLE_PLAY = '''- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.command: "dpkg-query -W -- {{ work.packages | join(' ') }}"
      changed_when: false
      check_mode: false
    - ansible.builtin.copy: {src: "{{ item.src }}", dest: "{{ item.path }}", owner: "{{ item.user }}",
                             group: "{{ item.group }}", mode: "{{ item.mode }}"}
      loop: "{{ work.files }}"
      loop_control: {label: "{{ item.path }}"}
    - ansible.builtin.command: "sysctl -n {{ item.key }}"
      loop: "{{ work.sysctls }}"
      changed_when: false
      check_mode: false
    - ansible.builtin.systemd_service: {name: "{{ item }}", state: started, enabled: true}
      loop: "{{ work.services }}"
'''


def write_trees(tmp, work, hosts, ssh_config):
    """The peers' inventories, deploy and playbook under `tmp` (0700); the files' sources per host."""
    for name, host_work in work.items():
        for index, f in enumerate(host_work["files"]):
            src = os.path.join(tmp, "files", name, str(index))
            os.makedirs(os.path.dirname(src), mode=0o700, exist_ok=True)
            with open(src, "w") as fh:
                fh.write(f["text"])
            f["src"] = src
            f["mode"] = f["mode"].lstrip("0") and "0" + f["mode"].lstrip("0") or "0"
    with open(os.path.join(tmp, "work.json"), "w") as fh:
        json.dump(work, fh)
    py_hosts = [(n, {"ssh_hostname": h.hostname, "ssh_port": h.port, "ssh_user": h.user,
                     "ssh_key": (h.identity_files or [None])[0],
                     "ssh_known_hosts_file": (h.user_known_hosts or [None])[0],
                     "ssh_strict_host_key_checking": "yes",
                     "workload_file": os.path.join(tmp, "work.json")}) for n, h in hosts.items()]
    with open(os.path.join(tmp, "pyinfra_inventory.py"), "w") as fh:
        fh.write(f"hosts = {py_hosts!r}\n")
    with open(os.path.join(tmp, "deploy.py"), "w") as fh:
        fh.write(PYINFRA_DEPLOY)
    control = os.path.join(tmp, "cp")
    os.makedirs(control, mode=0o700)
    ansible_inventory = {"all": {"hosts": {n: {"work": {k: v for k, v in work[n].items()}} for n in hosts},
                                 "vars": {"ansible_ssh_common_args":
                                          f"-F {ssh_config} -o ControlMaster=auto -o ControlPersist=120s "
                                          f"-o ControlPath={control}/%C",
                                          "ansible_python_interpreter": "/usr/bin/python3"}}}
    for n in hosts:
        ansible_inventory["all"]["hosts"][n]["work"]["files"] = [
            {k: v for k, v in f.items() if k != "text"} for f in work[n]["files"]]
    with open(os.path.join(tmp, "ansible_inventory.json"), "w") as fh:
        json.dump(ansible_inventory, fh)
    with open(os.path.join(tmp, "play.yml"), "w") as fh:
        fh.write(ANSIBLE_PLAY)


def commands(tmp, bins, path, ssh_config, hosts):
    hafab = [INV, "--search-root", REPO, "provision", "--inventory", path, "--ssh-config", ssh_config]
    pyinfra = [os.path.join(bins["pyinfra"], "pyinfra"), "-y", "--dry", "--parallel", str(len(hosts)),
               os.path.join(tmp, "pyinfra_inventory.py"), os.path.join(tmp, "deploy.py")]
    ansible = [os.path.join(bins["ansible"], "ansible-playbook"), "--check", "-f", str(len(hosts)),
               "-i", os.path.join(tmp, "ansible_inventory.json"), os.path.join(tmp, "play.yml")]
    return {"hafab": hafab, "pyinfra": pyinfra, "ansible": ansible}


def run_once(argv, env):
    """(wall s, cpu s) of one whole process, its children included; SystemExit when it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, cwd=REPO)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}):\n{output.decode(errors='replace')[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--prefix", default="192.168.91", help="the lab's /24 (default 192.168.91)")
    parser.add_argument("--peers-dir", default="/var/cache/hafab/peers")
    parser.add_argument("--inventory", help="the hosts.yaml of a copy of the seed whose lab is up (yours): "
                                            "used as it is and kept")
    args = parser.parse_args()
    bins = install(args.peers_dir)
    if args.inventory:
        inventory = inventorylib.load(args.inventory)
        if not lab.is_up(inventory):
            raise SystemExit(f"the lab of {args.inventory} is not up")
        inv("provision", "--inventory", args.inventory)
        measure(inventory, args.inventory, lab.ssh_config_path(inventory), bins, args.runs)
        return
    with tempfile.TemporaryDirectory(prefix="hafab-peers-lab-") as tree:
        path = seed_copy(tree, args.prefix)
        with own_lab(path, args.prefix) as inventory:
            inv("provision", "--inventory", path)
            measure(inventory, path, lab.ssh_config_path(inventory), bins, args.runs)


def measure(inventory, path, ssh_config, bins, runs):
    work = workload(inventory)
    hosts = addresses(ssh_config, list(work))
    tmp = tempfile.mkdtemp(prefix="hafab-peers-")   # mkdtemp makes it 0700
    env = dict(os.environ, ANSIBLE_PIPELINING="1", ANSIBLE_HOST_KEY_CHECKING="1", ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_CONFIG=os.path.join(tmp, "ansible.cfg"))
    try:
        with open(env["ANSIBLE_CONFIG"], "w") as fh:
            fh.write("[defaults]\n")   # no ansible.cfg of the machine's is read
        write_trees(tmp, work, hosts, ssh_config)
        argvs = commands(tmp, bins, path, ssh_config, hosts)
        times = {name: [] for name in argvs}
        for name, argv in argvs.items():
            run_once(argv, env)   # warm-up
        for _ in range(runs):
            for name, argv in argvs.items():
                times[name].append(run_once(argv, env))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(times, len(hosts), runs)


def report(times, hosts, runs):
    print(f"no-op on {hosts} lab hosts, {runs} alternating runs after a warm-up, whole process, medians:")
    base = times["hafab"]
    for name, values in times.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        line = f"  {name:<8} wall {wall:6.2f} s   cpu {cpu:6.2f} s"
        if name != "hafab":
            ratio_wall = statistics.median(v[0] / b[0] for v, b in zip(values, base))
            ratio_cpu = statistics.median(v[1] / b[1] for v, b in zip(values, base))
            line += f"   {name}/hafab: wall {ratio_wall:.1f}x, cpu {ratio_cpu:.1f}x"
        print(line)


if __name__ == "__main__":
    main()
