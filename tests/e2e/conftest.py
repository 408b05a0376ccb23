"""A real sshd on 127.0.0.1 with throwaway keys, and a small project tree whose states target a temp dir.

End-to-end tests drive `inv provision` as a user would, over real SSH, with `--ssh-config`.
"""

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _keygen(path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)


def _wait_port(port, proc, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("sshd did not listen in time")


@pytest.fixture(scope="session", autouse=True)
def runs_dir(tmp_path_factory):
    """The run history of every host (all on this machine here) in a temp dir, not /var/lib/hafab/runs;
    `inv` subprocesses inherit it."""
    path = str(tmp_path_factory.mktemp("runs"))
    previous = os.environ.get("HAFAB_RUNS_DIR")
    os.environ["HAFAB_RUNS_DIR"] = path
    yield path
    if previous is None:
        os.environ.pop("HAFAB_RUNS_DIR", None)
    else:
        os.environ["HAFAB_RUNS_DIR"] = previous


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """sshd on a free loopback port; yields (port, client key path, host public key line)."""
    if not os.path.exists(SSHD):
        if os.environ.get("CI"):
            pytest.fail("sshd is not installed (openssh-server); .ci/run must install it")
        pytest.skip("sshd is not installed")
    base = tmp_path_factory.mktemp("sshd")
    host_key, client_key = str(base / "host_key"), str(base / "client_key")
    _keygen(host_key)
    _keygen(client_key)
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    shutil.copy(client_key + ".pub", base / "authorized_keys")
    port = _free_port()
    config = base / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {base}/sshd.pid\n"
        f"AuthorizedKeysFile {base}/authorized_keys .ssh/authorized_keys\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        "MaxSessions 100\nMaxStartups 100\nLogLevel ERROR\n")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=open(base / "sshd.log", "w"))
    try:
        _wait_port(port, proc)
        host_pub = open(host_key + ".pub").read().split()
        yield {"port": port, "key": client_key, "host_key": f"{host_pub[0]} {host_pub[1]}", "dir": base}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def write_ssh_config(path, sshd, hosts, known_hosts=None, dead=(), user="root"):
    """ssh_config with a Host entry per name; names in `dead` point at a closed port."""
    known_hosts = known_hosts or os.path.join(os.path.dirname(path), "known_hosts")
    if not os.path.exists(known_hosts):
        with open(known_hosts, "w") as fh:
            fh.write(f"[127.0.0.1]:{sshd['port']} {sshd['host_key']}\n")
    closed = _free_port()
    with open(path, "w") as fh:
        for name in hosts:
            port = closed if name in dead else sshd["port"]
            fh.write(f"Host {name}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n"
                     f"  IdentityFile {sshd['key']}\n  UserKnownHostsFile {known_hosts}\n"
                     "  StrictHostKeyChecking yes\n  ConnectTimeout 3\n\n")
    return str(path)


@pytest.fixture(scope="session")
def sudo_user(sshd):
    """A throwaway login user allowed `sudo` without a password (removed at the end), or a skip
    (a failure in CI) when sudo is not installed."""
    if not shutil.which("sudo") or not shutil.which("useradd"):
        if os.environ.get("CI"):
            pytest.fail("sudo is not installed; .ci/run must install it")
        pytest.skip("sudo is not installed")
    name = f"hafab-e2e-{os.getpid()}"
    sudoers = f"/etc/sudoers.d/{name}"
    # password "*": no password login, but not "locked", which sshd refuses even for keys
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", "--password", "*", name], check=True)
    try:
        with open(sudoers, "w") as fh:
            fh.write(f"{name} ALL=(ALL) NOPASSWD: ALL\n")
        os.chmod(sudoers, 0o440)
        home = os.path.expanduser(f"~{name}")
        os.makedirs(f"{home}/.ssh", mode=0o700)
        shutil.copy(sshd["key"] + ".pub", f"{home}/.ssh/authorized_keys")
        shutil.chown(f"{home}/.ssh", name, name)
        shutil.chown(f"{home}/.ssh/authorized_keys", name, name)
        yield name
    finally:
        if os.path.exists(sudoers):
            os.remove(sudoers)
        subprocess.run(["userdel", "--remove", name], capture_output=True)


def inv(*args, cwd=REPO, timeout=300):
    """Run `inv` from the repo's venv like a user; returns CompletedProcess (text)."""
    exe = os.path.join(os.path.dirname(sys.executable), "inv")
    return subprocess.run([exe, "--search-root", REPO, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
