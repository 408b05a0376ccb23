"""Breaking one host on purpose and restoring it, per kind of outage.

service: systemctl stop of the host's serving units (haproxy on LBs, apache2 on webs); kill: SIGKILL of
their main processes; hang: SIGSTOP; host: a power cut (lab) or `vagrant halt`; network: the cluster
interface down. Each restore undoes its break; a service or kill restore also starts the companions
(keepalived on LBs).
"""

import os
import subprocess
import time

from hafab.cluster import roles
from hafab.engine.errors import HostError
from hafab.engine.transport import checked


def break_host(plan, fleet, name):
    """Break one host as plan.kind says."""
    BREAKS[plan.kind](plan, fleet, name)


def restore_host(plan, fleet, name):
    """Undo break_host on one host."""
    RESTORES[plan.kind](plan, fleet, name)


def self_healed(plan, fleet):
    """Hosts whose killed service systemd restarted on its own (kind kill only)."""
    if plan.kind != "kill":
        return []
    healed = []
    for name in plan.hosts:
        try:
            result = fleet.run(name, f"systemctl is-active {' '.join(_serving(plan, name))}", timeout=5)
        except HostError:
            continue
        if result.exit_status == 0:
            healed.append(name)
    return healed


def _serving(plan, name):
    return roles.serving_units(plan.inventory.hosts[name])


# ---- kind service and kill ------------------------------------------------------------------------

def _stop_services(plan, fleet, name):
    checked(fleet.run(name, f"systemctl stop {' '.join(_serving(plan, name))}"), f"{name}: systemctl stop")


def _kill_main_processes(plan, fleet, name):
    script = "; ".join(f'pid=$(systemctl show -p MainPID --value {u}); [ "${{pid:-0}}" -gt 0 ] && kill -KILL "$pid"'
                       for u in _serving(plan, name))
    checked(fleet.run(name, script), f"{name}: kill -KILL of the main process")


def _start_services(plan, fleet, name):
    host = plan.inventory.hosts[name]
    serving = " ".join(roles.serving_units(host))
    everything = " ".join(roles.serving_units(host) + roles.companion_units(host))
    script = f"systemctl reset-failed {serving} 2>/dev/null; systemctl start {everything}"
    checked(fleet.run(name, script, timeout=60), f"{name}: systemctl start")


# ---- kind hang ----------------------------------------------------------------------------------

def _freeze(plan, fleet, name):
    script = "; ".join(f"systemctl kill -s STOP {u}" for u in _serving(plan, name))
    checked(fleet.run(name, script), f"{name}: SIGSTOP")


def _thaw(plan, fleet, name):
    script = "; ".join(f"systemctl kill -s CONT {u}" for u in _serving(plan, name))
    checked(fleet.run(name, script), f"{name}: SIGCONT")


# ---- kind host ----------------------------------------------------------------------------------

def _power_off(plan, fleet, name):
    if plan.where == "lab":
        from hafab import lab
        fleet.forget(name)
        lab.stop_host(plan.inventory, name, power_cut=True)
    else:
        _vagrant(plan.inventory, "halt", name)


def _power_on(plan, fleet, name):
    if plan.where == "lab":
        from hafab import lab
        lab.start_host(plan.inventory, name)
    else:
        _vagrant(plan.inventory, "up", name)
    fleet.forget(name)


def _vagrant(inventory, action, name):
    command = ["vagrant", action, name] + (["--no-provision"] if action == "up" else [])
    env = dict(os.environ, VAGRANT_CHECKPOINT_DISABLE="1")
    out = subprocess.run(command, cwd=inventory.root, env=env, capture_output=True, text=True, timeout=600,
                         stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise HostError(f"{name}: vagrant {action} failed: {out.stderr.strip()[-300:]}")


# ---- kind network -------------------------------------------------------------------------------

def _link_down(plan, fleet, name):
    interface = plan.inventory.cluster["interface"]
    if plan.where == "lab":
        _lab_link(plan.inventory, name, "down")
        return
    # the host brings its link back by itself after a while, in case we cannot reach it again
    back = int(plan.duration + 30)
    script = (f"setsid sh -c 'ip link set {interface} down; sleep {back}; ip link set {interface} up' "
              f">/dev/null 2>&1 < /dev/null &")
    checked(fleet.run(name, script), f"{name}: link down")


def _link_up(plan, fleet, name):
    if plan.where == "lab":
        _lab_link(plan.inventory, name, "up")
        return
    interface = plan.inventory.cluster["interface"]
    deadline = time.monotonic() + plan.duration + 45
    while True:
        try:
            checked(fleet.run(name, f"ip link set {interface} up", timeout=5), f"{name}: link up")
            return
        except HostError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def _lab_link(inventory, name, state):
    """Set the host's cluster interface down or up inside its own network namespace (made by the lab)."""
    from hafab import lab
    ns = lab.host_netns(inventory, name)
    out = subprocess.run(["ip", "-n", ns, "link", "set", inventory.cluster["interface"], state],
                         capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise HostError(f"{name}: ip -n {ns} link set {state} failed: {out.stderr.strip()}")


BREAKS = {"service": _stop_services, "kill": _kill_main_processes, "hang": _freeze, "host": _power_off,
          "network": _link_down}
RESTORES = {"service": _start_services, "kill": _start_services, "hang": _thaw, "host": _power_on,
            "network": _link_up}
