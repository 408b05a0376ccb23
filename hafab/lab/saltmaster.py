"""A real salt-master for the lab, run on this machine as a process that dies with the lab.

Why here and not as a lab host of its own: the master needs no systemd and no host of hosts.yaml, and
this machine already holds the lab's one address every host reaches, the bridge's (`interface:` binds
the master's two ports, 4505 publish and 4506 return, to it alone, so nothing outside the lab can
connect). Salt 3008.4 is installed once into a venv beside the wheel cache (MASTER_VENV, from the
cache only, no network). Everything the master writes (config, keys, cache, sockets, logs) lies in
`master_dir`, inside the lab's data directory: `lab.down` stops the master by the pid recorded in
RECORD (pid and kernel start time, so a reused pid is never signalled), then removes that directory with
the rest of the lab. salt-master forks its workers into the session it was started in (we make it a new
session): whatever of that session survives SIGTERM is killed by pid.
"""

import json
import os
import shutil
import signal
import subprocess
import time

import yaml

from hafab.engine import atomicfile
from hafab.engine.errors import HostError, InputError
from hafab.lab import names, procs, saltcache, sshconfig
from hafab.lab.cache import BuiltOnce
from hafab.lab.run import stream

MASTER_VENV = os.path.join(saltcache.WHEELS_ROOT, f"salt-master-{saltcache.SALT_VERSION}")
VENV_MARKER = ".hafab-venv"
RECORD = "hafab-master.json"
PORTS = (4505, 4506)
START_TIMEOUT = 60
STOP_TIMEOUT = 20


def master_dir(inventory):
    return os.path.join(names.lab_data_dir(inventory), "salt-master")


def config_dir(inventory):
    return os.path.join(master_dir(inventory), "etc", "salt")


def address(inventory):
    """The lab bridge's own address: the only one the master listens on."""
    return names.bridge_address(inventory).split("/")[0]


def binary(name):
    return os.path.join(MASTER_VENV, "bin", name)


def command(inventory, name, *args):
    """argv of one of the master's tools (salt, salt-key, salt-run, salt-ssh) with this lab's config."""
    return [binary(name), "-c", config_dir(inventory), *args]


def _venv_python():
    """Debian 12's python3 (the lab hosts' own), which the cached wheels are built for."""
    return "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else shutil.which("python3")


def ensure_venv(progress):
    cache = saltcache.ensure(progress=progress)
    digest = saltcache.recipe_digest() + "-master1"

    def build(tmp):
        progress(f"salt master: installing salt {saltcache.SALT_VERSION} into {MASTER_VENV} from the wheel cache")
        subprocess.run([_venv_python(), "-m", "venv", "--without-pip", tmp], check=True,
                       capture_output=True, timeout=120)
        pip_wheel = sorted(p for p in os.listdir(cache) if p.startswith("pip-") and p.endswith(".whl"))[0]
        stream([os.path.join(tmp, "bin", "python3"), os.path.join(cache, pip_wheel, "pip"), "install",
                "--quiet", "--no-index", "--no-cache-dir", "--disable-pip-version-check", "--find-links",
                cache, "pip", f"salt=={saltcache.SALT_VERSION}"], lambda line: None, timeout=900)

    # A venv's scripts name its own path: build it in place (BuiltOnce builds in a temp dir and renames).
    built = BuiltOnce(MASTER_VENV, VENV_MARKER, saltcache.LOCK_PATH, digest)
    if not built.is_ready():
        with built.locked():
            if not built.is_ready():
                shutil.rmtree(MASTER_VENV, ignore_errors=True)
                build(MASTER_VENV)
                with open(os.path.join(MASTER_VENV, VENV_MARKER), "w") as f:
                    f.write(digest + "\n")
    return MASTER_VENV


def master_config(inventory, export_dir):
    """The master's configuration: bound to the bridge address, keys accepted by hand only."""
    root = master_dir(inventory)
    return {
        "root_dir": root,
        "interface": address(inventory),
        "ipv6": False,
        "publish_port": PORTS[0],
        "ret_port": PORTS[1],
        "user": "root",
        "auto_accept": False,
        "open_mode": False,
        "worker_threads": 2,
        "hash_type": "sha256",
        "file_roots": {"base": [os.path.join(export_dir, "file_root")]},
        "pillar_roots": {"base": [os.path.join(export_dir, "pillar")]},
        "log_level_logfile": "info",
        # salt-ssh (same config): the lab's key and known_hosts, never the operator's ssh_config defaults.
        "known_hosts_file": sshconfig.known_hosts_path(inventory),
        "ssh_priv": sshconfig.key_path(inventory),
        "ssh_options": ["ControlMaster=no", "GlobalKnownHostsFile=/dev/null", "StrictHostKeyChecking=yes"],
        "ssh_log_file": os.path.join(root, "var", "log", "salt", "ssh"),
    }


def _record_path(inventory):
    return os.path.join(master_dir(inventory), RECORD)


def record(inventory):
    """{"pid", "started", "export"} of the running master, or None."""
    try:
        with open(_record_path(inventory)) as f:
            found = json.load(f)
    except (OSError, ValueError):
        return None
    return found if procs.alive(found.get("pid"), found.get("started")) else None


def listening(inventory):
    """The local addresses:ports the master's ports are bound on (from `ss`, no traffic sent)."""
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, timeout=10).stdout
    found = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[3].rsplit(":", 1)[-1] in {str(p) for p in PORTS}:
            found.append(fields[3])
    return found


def start(inventory, export_dir, progress):
    """Start the master (or keep the running one when it serves the same export); return its record."""
    running = record(inventory)
    if running and running.get("export") == export_dir:
        progress(f"salt master: already running (pid {running['pid']}) on {address(inventory)}")
        return running
    if running:
        stop(inventory, progress)
    ensure_venv(progress)
    wanted = {f"{address(inventory)}:{p}" for p in PORTS}
    taken = [a for a in listening(inventory) if a in wanted or a.startswith(("0.0.0.0:", "*:", "[::]:"))]
    if taken:
        raise InputError("salt master", f"{taken[0]} is already listened on by another process: not starting")
    root = master_dir(inventory)
    os.makedirs(config_dir(inventory), mode=0o700, exist_ok=True)
    os.chmod(root, 0o700)
    atomicfile.write(os.path.join(config_dir(inventory), "master"),
                     ("# Made by `inv salt.master`: the lab's salt-master.\n"
                      + yaml.safe_dump(master_config(inventory, export_dir), default_flow_style=False)).encode(), 0o600)
    log = open(os.path.join(root, "master.out"), "ab")
    try:
        proc = subprocess.Popen([binary("salt-master"), "-c", config_dir(inventory)], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, start_new_session=True, close_fds=True)
    finally:
        log.close()
    found = {"pid": proc.pid, "started": procs.start_time(proc.pid), "export": export_dir}
    atomicfile.write(_record_path(inventory), json.dumps(found).encode(), 0o600)
    _wait_listening(inventory, proc, wanted, progress)
    return found


def _wait_listening(inventory, proc, wanted, progress):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            last = _last_line(os.path.join(master_dir(inventory), "master.out"))
            stop(inventory, lambda _: None)
            raise HostError(f"salt master: exited at start (code {proc.returncode}): {last}")
        if wanted <= set(listening(inventory)):
            progress(f"salt master: pid {proc.pid} listening on {', '.join(sorted(wanted))} only")
            return
        time.sleep(0.5)
    stop(inventory, lambda _: None)
    raise HostError(f"salt master: not listening on {', '.join(sorted(wanted))} after {START_TIMEOUT}s")


def _last_line(path):
    try:
        with open(path, errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return "no output"
    return lines[-1][-300:] if lines else "no output"


def _session_members(sid, not_before):
    """Pids whose session is `sid` (the one we created for the master) and started after it."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and int(fields[19]) >= not_before and fields[0] != "Z":
            members.append((int(entry), int(fields[19])))
    return members


def stop(inventory, progress):
    """Stop the master started for this lab (by its pid, then what is left of its session) and remove its
    directory. True when one was running."""
    path = _record_path(inventory)
    try:
        with open(path) as f:
            found = json.load(f)
    except (OSError, ValueError):
        found = None
    was_running = False
    if found and found.get("started") is not None:
        pid, started = found["pid"], found["started"]
        was_running = procs.alive(pid, started)
        procs.signal_pid(pid, started, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and _session_members(pid, started):
            time.sleep(0.2)
        for member, member_started in _session_members(pid, started):
            procs.signal_pid(member, member_started, signal.SIGKILL)
        procs.alive(pid, started)  # reaps it when we are its parent
    shutil.rmtree(master_dir(inventory), ignore_errors=True)
    if was_running:
        progress(f"salt master: stopped, {master_dir(inventory)} removed")
    return was_running
