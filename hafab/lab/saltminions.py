"""salt-minion on the lab's hosts, pointed at the lab's master, and its keys accepted by hand.

Each host gets Salt from the offline wheel cache (hafab.lab.saltcache, /opt/salt), a config naming the
master (the bridge's address) and its minion id (the host's name in hosts.yaml), and a systemd unit
(hafab-salt-minion). A minion's key is accepted only when the fingerprint the master holds for that id
equals the one the host itself reports over SSH (`salt-call --local key.finger`): anything else is a
key someone else sent under that name, and it is deleted (that host fails, exit 1; the others go on).
"""

import hashlib
import json
import os
import shlex
import subprocess
import time

from hafab.engine.errors import HostError
from hafab.lab import names, netguard, saltcache, saltmaster, sshconfig

UNIT = "hafab-salt-minion"
KEY_TIMEOUT = 90      # the minion's key reaches the master
PING_TIMEOUT = 90     # an accepted minion answers test.ping
STOP_SECONDS = 10     # the minion stops, else systemd kills what is left of it
SALT_DIRS = ("/etc/salt", "/opt/salt", "/var/cache/salt", "/var/log/salt", "/run/salt", saltcache.IN_HOST)


def ssh_argv(inventory, host):
    """ssh to a lab host, after checking the kernel routes its address through the lab's own bridge."""
    netguard.require_lab_route(inventory.hosts[host].address, names.bridge(inventory))
    return ["ssh", "-F", sshconfig.config_path(inventory), "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", host]


def on_host(inventory, host, script, timeout=300):
    try:
        done = subprocess.run([*ssh_argv(inventory, host), script], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise HostError(f"{host}: salt minion: no answer over SSH within {timeout} s") from None
    if done.returncode != 0:
        raise HostError(f"{host}: salt minion: {(done.stderr or done.stdout).strip()[-300:] or 'failed'}")
    return done.stdout


def minion_config(inventory, host):
    return (f"# Made by `inv salt.master`: this host's minion of the lab's master.\n"
            f"master: {saltmaster.address(inventory)}\nid: {host}\nipv6: false\n"
            "acceptance_wait_time: 2\nacceptance_wait_time_max: 5\nrandom_reauth_delay: 0\n")


UNIT_TEXT = f"""[Unit]
Description=Salt minion of the hafab lab's master
After=network-online.target

[Service]
ExecStart=/opt/salt/bin/salt-minion
Restart=on-failure
# A minion whose key the master deleted can ignore SIGTERM for minutes (seen in CI): stop it in 10 s at most,
# then every process of the unit is killed
KillMode=mixed
TimeoutStopSec={STOP_SECONDS}

[Install]
WantedBy=multi-user.target
"""


def install(inventory, host, cache):
    """Salt on the host (from the cache, once), its config written (temp then rename), minion started."""
    installed = subprocess.run([*ssh_argv(inventory, host), "test -x /opt/salt/bin/salt-minion"],
                               capture_output=True, timeout=60, stdin=subprocess.DEVNULL).returncode == 0
    if not installed:
        saltcache.copy_to_host(ssh_argv(inventory, host), cache)
    conf, unit = shlex.quote(minion_config(inventory, host)), shlex.quote(UNIT_TEXT)
    on_host(inventory, host, f"""set -e
{saltcache.install_command()} >/dev/null
mkdir -p /etc/salt/minion.d
printf %s {conf} > /etc/salt/minion.d/hafab.conf.tmp && mv /etc/salt/minion.d/hafab.conf.tmp /etc/salt/minion.d/hafab.conf
printf %s {unit} > /etc/systemd/system/{UNIT}.service.tmp && mv /etc/systemd/system/{UNIT}.service.tmp /etc/systemd/system/{UNIT}.service
systemctl daemon-reload
systemctl enable --quiet {UNIT}
systemctl restart {UNIT}
""", timeout=900)


def host_fingerprint(inventory, host):
    """The fingerprint of the minion key the host itself holds (waits, bounded, for the minion to make it)."""
    out = on_host(inventory, host, "for i in $(seq 60); do [ -s /etc/salt/pki/minion/minion.pub ] && break; "
                                   "sleep 0.5; done; /opt/salt/bin/salt-call --local --out=json key.finger",
                  timeout=120)
    try:
        return json.loads(out)["local"]
    except (ValueError, KeyError, TypeError):
        raise HostError(f"{host}: salt minion: key.finger gave no fingerprint") from None


def _salt_key(inventory, *args, parse=True):
    done = subprocess.run(saltmaster.command(inventory, "salt-key", "--out=json", *args), capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise HostError(f"salt master: salt-key {' '.join(args)}: {done.stderr.strip()[-300:]}")
    return json.loads(done.stdout or "{}") if parse else None


def pem_fingerprint(pem_text):
    """The fingerprint `salt-call --local key.finger` reports: SHA-256 of the PEM's body (its non-blank
    lines but the armour lines), in colon-separated hex.

    Not `salt-key -f`'s: Salt 3008.4's salt-key hashes the PEM with its BEGIN/END lines (it reads the key
    from its key cache, not the file), so its fingerprint never equals the minion's own for the same key.
    """
    lines = [line + "\n" for line in pem_text.replace("\r\n", "\n").split("\n") if line.strip()]
    digest = hashlib.sha256("".join(lines[1:-1]).encode()).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def master_fingerprint(inventory, host):
    """(key list, fingerprint) of the key the master holds for minion id `host` (waits, bounded, for it)."""
    deadline = time.monotonic() + KEY_TIMEOUT
    pki = os.path.join(saltmaster.master_dir(inventory), "etc", "salt", "pki", "master")
    while True:
        keys = _salt_key(inventory, "-L")
        for kind in ("minions", "minions_pre"):
            if host in keys.get(kind, []):
                with open(os.path.join(pki, kind, host)) as f:
                    return kind, pem_fingerprint(f.read())
        if time.monotonic() > deadline:
            raise HostError(f"{host}: salt minion: its key did not reach the master in {KEY_TIMEOUT}s")
        time.sleep(1)


def accept(inventory, host):
    """Accept the host's key after checking its fingerprint; on a mismatch delete it and stop the minion."""
    kind, held = master_fingerprint(inventory, host)
    own = host_fingerprint(inventory, host)
    if held != own:
        _salt_key(inventory, "-d", host, "-y", parse=False)
        on_host(inventory, host, stop_script(), timeout=STOP_SECONDS + 50)
        raise HostError(f"{host}: salt minion: the master holds a key for {host} whose fingerprint is not the "
                        "host's own: deleted it, not accepted (stopped the host's minion)")
    if kind == "minions_pre":
        _salt_key(inventory, "-a", host, "-y", parse=False)
    return own


def wait_ping(inventory, hosts):
    """The accepted minions that have not answered test.ping within PING_TIMEOUT."""
    pending = set(hosts)
    deadline = time.monotonic() + PING_TIMEOUT
    while pending and time.monotonic() < deadline:
        done = subprocess.run(saltmaster.command(inventory, "salt", "--out=json", "--static", "-t", "5", "-L",
                                                 ",".join(sorted(pending)), "test.ping"),
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        try:
            answered = json.loads(done.stdout or "{}")
        except ValueError:
            answered = {}
        pending -= {h for h, ret in answered.items() if ret is True}
        if pending:
            time.sleep(1)
    return sorted(pending)


def stop_script():
    """Stop and disable the minion; a stop that systemd had to finish by killing leaves the unit "failed":
    that record is cleared, so the unit reads inactive."""
    return f"systemctl disable --quiet --now {UNIT}; systemctl reset-failed {UNIT} 2>/dev/null; true"


def remove(inventory, host):
    """Stop and disable the host's minion, remove its unit and everything Salt put there."""
    on_host(inventory, host, f"""{stop_script()} 2>/dev/null
rm -f /etc/systemd/system/{UNIT}.service
systemctl daemon-reload
rm -rf {' '.join(SALT_DIRS)}
! systemctl is-active --quiet {UNIT}
""", timeout=120)
