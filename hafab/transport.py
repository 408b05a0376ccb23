"""SSH to the hosts with Fabric: one connection per host for the whole run, settings from an ssh_config.

Host keys are checked against the ssh_config's UserKnownHostsFile (and ~/.ssh/known_hosts): a changed key
is always refused, and an unknown one too unless StrictHostKeyChecking is "no".
"""

import os
import shlex
import socket
from dataclasses import dataclass

import paramiko
from fabric import Config, Connection

from hafab.errors import HostError

DEFAULT_CONNECT_TIMEOUT = 5.0


@dataclass
class ExecResult:
    exit_status: int
    stdout: str
    stderr: str


class Remote:
    """One open SSH connection to one host, running sh scripts as root (through sudo when needed)."""

    def __init__(self, name, connection):
        self.name = name
        self.connection = connection
        self.sudo = (connection.user or "root") != "root"
        self.channel_opens = 0

    def run(self, script, stdin=b"", timeout=300):
        """Run a POSIX sh script as root; `stdin` bytes are fed to it. One channel open per call."""
        command = "sh -c " + shlex.quote(script)
        if self.sudo:
            command = "sudo -n " + command
        return self._exec(command, stdin, timeout)

    def _exec(self, command, stdin, timeout):
        transport = self.connection.transport
        if transport is None or not transport.is_active():
            raise HostError(f"{self.name}: connection lost")
        self.channel_opens += 1
        try:
            channel = transport.open_session(timeout=timeout)
            channel.settimeout(timeout)
            channel.exec_command(command)
            if stdin:
                channel.sendall(stdin)
            channel.shutdown_write()
            out, err = _drain(channel)
            status = channel.recv_exit_status()
            channel.close()
        except (socket.timeout, TimeoutError):
            raise HostError(f"{self.name}: command timed out after {timeout:g} s") from None
        except (paramiko.SSHException, OSError) as exc:
            raise HostError(f"{self.name}: SSH failed: {exc}") from None
        return ExecResult(status, out.decode("utf-8", "surrogateescape"), err.decode("utf-8", "replace"))

    def close(self):
        self.connection.close()


def _drain(channel):
    """All of stdout, then all of stderr (Paramiko buffers stderr meanwhile); the channel's timeout holds."""
    out, err = [], []
    for receive, chunks in ((channel.recv, out), (channel.recv_stderr, err)):
        while True:
            data = receive(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(out), b"".join(err)


def connect(name, ssh_config_path, timeout=None):
    """Open the SSH connection to `name` as the ssh_config describes it; HostError when it fails."""
    config = Config(runtime_ssh_path=ssh_config_path, overrides={"load_ssh_configs": True})
    conn = Connection(name, config=config)
    settings = conn.ssh_config
    connect_timeout = timeout or float(settings.get("connecttimeout", DEFAULT_CONNECT_TIMEOUT))
    conn.connect_timeout = connect_timeout
    conn.connect_kwargs.setdefault("banner_timeout", connect_timeout)
    conn.connect_kwargs.setdefault("auth_timeout", connect_timeout)
    _check_host_keys(conn.client, settings)
    try:
        conn.open()
    except paramiko.BadHostKeyException as exc:
        raise HostError(f"{name}: host key changed ({exc.key.get_name()}); refusing to connect. "
                        f"If the host was rebuilt on purpose, remove its old key from the known_hosts file") from None
    except paramiko.SSHException as exc:
        raise HostError(f"{name}: SSH failed: {exc}") from None
    except (socket.timeout, TimeoutError):
        raise HostError(f"{name}: unreachable: no answer on SSH within {connect_timeout:g} s") from None
    except OSError as exc:
        raise HostError(f"{name}: unreachable: {exc.strerror or exc}") from None
    return Remote(name, conn)


def _check_host_keys(client, settings):
    files = settings.get("userknownhostsfile") or "~/.ssh/known_hosts"
    for path in files.split() if isinstance(files, str) else files:
        path = os.path.expanduser(path)
        if os.path.exists(path):
            client.load_host_keys(path)
    strict = str(settings.get("stricthostkeychecking", "ask")).lower()
    policy = paramiko.AutoAddPolicy() if strict in ("no", "off", "accept-new") else paramiko.RejectPolicy()
    client.set_missing_host_key_policy(policy)
