"""SSH to the hosts with Fabric (Paramiko underneath): one connection per host for the whole run, its
settings from an ssh_config.

The ssh_config is read and checked by hafab.engine.ssh_config (OpenSSH's meaning of every option hafab
honours). Host keys are checked against the host's UserKnownHostsFile and GlobalKnownHostsFile: a changed
or @revoked key is always refused (even with StrictHostKeyChecking no, where OpenSSH would go on with
restrictions); an unknown key is refused with yes or ask (hafab never prompts) and saved to the first
UserKnownHostsFile with accept-new or no. Paramiko's own log lines never reach stderr: every failure is
one HostError line that carries the real reason.
"""

import logging
import os
import shlex
import socket
import time
from dataclasses import dataclass

import paramiko
from fabric import Config, Connection

from hafab.engine import knownhosts
from hafab.engine import ssh_config as ssh_configlib
from hafab.engine.errors import HostError, InputError

_PARAMIKO_LOG = logging.getLogger("paramiko")
_PARAMIKO_LOG.addHandler(logging.NullHandler())
_PARAMIKO_LOG.propagate = False

DEFAULT_CONNECT_TIMEOUT = 5.0
SSH_CONFIG_LIMIT = ssh_configlib.MAX_CONFIG_BYTES


@dataclass
class ExecResult:
    exit_status: int
    stdout: str
    stderr: str


def checked(result, what):
    """`result` of a script that exited 0, else HostError "WHAT failed: its output" (its exit status when
    it printed nothing)."""
    if result.exit_status != 0:
        output = (result.stderr or result.stdout).strip()[:200] or f"exit {result.exit_status}"
        raise HostError(f"{what} failed: {output}")
    return result


class Remote:
    """One open SSH connection to one host, running sh scripts as root (through sudo when needed)."""

    def __init__(self, name, client, user, jumps=()):
        self.name = name
        self.client = client
        self.user = user
        self.jumps = list(jumps)   # the jump hosts' clients, first dialled first
        self.sudo = user != "root"
        self.channel_opens = 0

    def run(self, script, stdin=b"", timeout=300):
        """Run a POSIX sh script as root; `stdin` bytes are fed to it. One channel open per call."""
        command = "sh -c " + shlex.quote(script)
        if self.sudo:
            command = "sudo -n " + command
        return self._exec(command, stdin, timeout)

    def _exec(self, command, stdin, timeout):
        transport = self.client.get_transport()
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

    def hold_lock(self, owner, wait=60, on_wait=None, stop=None, then="", until=""):
        """Take this host's hafab lock for as long as this connection lives (one channel, held open).

        The lock is a flock held by a process that lives until our channel closes, so a run that dies
        (even kill -9 or a lost network) never leaves a stale lock. Waits up to `wait` seconds for
        another run, calling on_wait(holder) once; HostError names the holder on timeout, or when the
        `stop` event is set meanwhile. `then`, a script, runs once the lock is held, in the same round
        trip; its output, up to and including the text `until`, is returned.
        """
        script = LOCK_SCRIPT.format(wait=int(wait), owner=shlex.quote(owner), then=then or ":")
        self.channel_opens += 1
        channel = self.client.get_transport().open_session(timeout=10)
        channel.settimeout(0.5)
        channel.exec_command(("sudo -n " if self.sudo else "") + "sh -c " + shlex.quote(script))
        reader = _LockReader(channel, self.name, wait, on_wait, stop)
        reader.wait_for_lock()
        self._lock_channel = channel
        return reader.read_until(until.encode()) if until else ""

    def close(self):
        for client in [self.client, *reversed(self.jumps)]:
            client.close()


LOCK_SCRIPT = """exec 9>>/run/lock/hafab.lock 2>/dev/null || exec 9>>/tmp/hafab.lock
owner=/run/lock/hafab.owner
if ! flock -n 9; then
  echo "busy $(cat $owner 2>/dev/null)"
  flock -w {wait} 9 || {{ echo "timeout $(cat $owner 2>/dev/null)"; exit 1; }}
fi
printf '%s\n' {owner} > $owner 2>/dev/null
echo locked
{{ {then}
}} 9>&-
while read -r _; do :; done
"""
# After "locked": the `then` script runs in this shell (a brace group, not a subshell: no fork), fd 9
# closed for it (the shell keeps its copy close-on-exec, so no command it starts holds the lock); then
# the shell waits, with its own `read` (no `cat` process), for our channel to close, which ends it and
# the lock.


class _LockReader:
    """Reads the lock channel: "busy HOLDER" lines, then "locked", then the output of the `then` script."""

    def __init__(self, channel, name, wait, on_wait, stop):
        self.channel, self.name, self.wait, self.on_wait, self.stop = channel, name, wait, on_wait, stop
        self.buffer = b""
        self.deadline = time.monotonic() + wait + 10

    def _more(self):
        while time.monotonic() < self.deadline and not (self.stop and self.stop.is_set()):
            try:
                data = self.channel.recv(65536)
            except socket.timeout:
                continue
            if data:
                self.buffer += data
                return
            break
        self.channel.close()
        interrupted = self.stop and self.stop.is_set()
        raise HostError(f"{self.name}: could not take the hafab lock" + (" (interrupted)" if interrupted else ""))

    def wait_for_lock(self):
        while True:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                line = line.decode("utf-8", "replace").strip()
                if line == "locked":
                    return
                if line.startswith("busy") and self.on_wait:
                    self.on_wait(line[5:] or "another run")
                elif line.startswith("timeout"):
                    self.channel.close()
                    raise HostError(f"{self.name}: another hafab run holds the lock "
                                    f"({line[8:] or 'unknown'}); waited {self.wait} s")
            self._more()

    def read_until(self, marker):
        self.deadline = time.monotonic() + 120
        while marker not in self.buffer:
            self._more()
        return self.buffer[: self.buffer.index(marker) + len(marker)].decode("utf-8", "surrogateescape")


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


def load_config(path):
    """The checked ssh_config at `path`; InputError naming file:line and the option when it is bad."""
    return ssh_configlib.load(path)


def check_hosts(config, names):
    """Before any connection: every name (and each jump host) resolves completely and its known_hosts
    files can be read; InputError naming the file, line and option otherwise."""
    pending = list(config.check(names).values())
    while pending:
        host = pending.pop()
        pending += host.jumps
        for option, paths in (("UserKnownHostsFile", host.user_known_hosts),
                              ("GlobalKnownHostsFile", host.global_known_hosts)):
            for path in paths:
                problem = knownhosts.usable(path)
                if problem:
                    raise InputError(host.where(option) or config.path, f"{option}: {path}: {problem}")


def connect(name, ssh_config, timeout=None):
    """Open the SSH connection to `name` as the ssh_config (a checked SshConfig, or its path) describes it.

    HostError (one line, the real reason) when it fails; InputError when the config does not name it."""
    config = ssh_config if isinstance(ssh_config, ssh_configlib.SshConfig) else ssh_configlib.load(ssh_config)
    host = config.settings(name)
    try:
        clients = _dial(host, timeout)
    except _Failed as exc:
        via = "" if exc.host is host else f"through jump host {exc.host.name}: "
        raise HostError(f"{name}: {via}{exc.reason}") from None
    return Remote(name, clients[-1], host.user, clients[:-1])


class _Failed(Exception):
    """Why one host of a chain (the target or a jump host) could not be reached."""

    def __init__(self, host, reason):
        super().__init__(reason)
        self.host, self.reason = host, reason


def _dial(host, timeout):
    """[the jump hosts' clients..., the host's client], each reached through the one before it."""
    clients, sock = [], None
    try:
        for index, hop in enumerate(host.jumps):
            clients += _dial(hop, timeout) if index == 0 else [_client(hop, timeout, sock)]
            after = host.jumps[index + 1] if index + 1 < len(host.jumps) else host
            sock = _forward(clients[-1], hop, after, timeout or hop.connect_timeout or DEFAULT_CONNECT_TIMEOUT)
        clients.append(_client(host, timeout, sock))
    except BaseException:
        for client in reversed(clients):
            client.close()
        raise
    return clients


def _forward(client, hop, after, seconds):
    try:
        return client.get_transport().open_channel("direct-tcpip", (after.hostname, after.port), ("127.0.0.1", 0),
                                                   timeout=seconds)
    except Exception as exc:  # noqa: BLE001 - the jump host refused or timed out: one line
        raise _Failed(hop, f"cannot forward to {after.hostname}:{after.port}: {exc or type(exc).__name__}") from None


def _client(host, timeout, sock=None):
    """A connected, authenticated SSHClient for `host` (through `sock` when given); _Failed otherwise."""
    seconds = timeout or host.connect_timeout or DEFAULT_CONNECT_TIMEOUT
    conn = client = None
    try:
        # Fabric's Connection, told everything (hafab read the ssh_config itself): it reads no ssh_config
        # and no other file; its Paramiko client gets our host-key policy before it connects.
        # connect_kwargs must be a non-empty dict of this connection's own: given an empty one, Fabric
        # uses the shared Config's connect_kwargs, so every thread's update would land in one object
        # (re-merged under the others' feet, another host's socket and keys in it).
        own = {key: value for key, value in _identities(host).items() if value is not None}
        own.update(banner_timeout=seconds, auth_timeout=seconds)
        conn = Connection(host.hostname, user=host.user, port=host.port, config=_fabric_config(),
                          connect_timeout=seconds, connect_kwargs=own)
        client = conn.client
        policy = _HostKeyPolicy(host)
        for key in policy.known:
            client.get_host_keys().add(policy.lookup_name, key.get_name(), key)
        client.set_missing_host_key_policy(policy)
        if sock is None:
            sock = _socket(host.hostname, host.port, seconds)
        conn.connect_kwargs["sock"] = sock
        conn.open()
        policy.refuse_revoked(client.get_transport().get_remote_server_key())
        if host.alive_interval:
            client.get_transport().set_keepalive(host.alive_interval)
    except Exception as exc:
        if client is not None:
            client.close()
        if sock is not None:
            sock.close()
        if isinstance(exc, _Failed):
            raise
        raise _Failed(host, _reason(exc, host, seconds)) from None
    return client


_FABRIC_CONFIG = []


def _fabric_config():
    """One Fabric Config for every connection: no ssh_config loading (hafab's own reading decides)."""
    if not _FABRIC_CONFIG:
        _FABRIC_CONFIG.append(Config(lazy=True, overrides={"load_ssh_configs": False}))
    return _FABRIC_CONFIG[0]


def _identities(host):
    """OpenSSH's choice of keys: the IdentityFiles that exist, else the default ones; the agent too
    unless IdentitiesOnly."""
    present = [path for path in host.identity_files if os.path.exists(path)]
    return {"key_filename": present or None, "look_for_keys": not host.identity_files,
            "allow_agent": not host.identities_only}


def _reason(exc, host, seconds):
    if isinstance(exc, paramiko.BadHostKeyException):
        files = " ".join(host.user_known_hosts + host.global_known_hosts) or "the known_hosts file"
        return (f"host key changed ({exc.key.get_name()} {knownhosts.fingerprint(exc.key)}); refusing to "
                f"connect. If the host was rebuilt on purpose, remove its old key from {files}")
    if isinstance(exc, paramiko.AuthenticationException) or "authentication methods" in str(exc):
        keys = ", ".join(host.identity_files) or "the default keys"
        missing = [path for path in host.identity_files if not os.path.exists(path)]
        return (f"authentication failed: {host.user}@{host.hostname} accepts none of {keys}"
                + (f" (missing: {', '.join(missing)})" if missing else ""))
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"unreachable: no answer on SSH within {seconds:g} s"
    if isinstance(exc, knownhosts.KnownHostsError):
        return f"{exc}; refusing to connect"
    if isinstance(exc, paramiko.SSHException):
        return f"SSH failed: {exc or type(exc).__name__}"
    if isinstance(exc, OSError):
        return f"unreachable: {exc.strerror or exc}"
    return f"SSH failed: {type(exc).__name__}: {exc}"


class _HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """The host's known and @revoked keys; what to do with an unknown key (StrictHostKeyChecking)."""

    def __init__(self, host):
        self.host = host
        self.lookup_name = host.hostname if host.port == 22 else f"[{host.hostname}]:{host.port}"
        try:
            self.known, self.revoked = knownhosts.lookup(host.user_known_hosts + host.global_known_hosts,
                                                         self.lookup_name)
        except knownhosts.KnownHostsError as exc:
            raise _Failed(host, f"{exc}; refusing to connect") from None

    def refuse_revoked(self, key):
        if any(knownhosts.same(key, gone) for gone in self.revoked):
            raise _Failed(self.host, f"host key {key.get_name()} {knownhosts.fingerprint(key)} is marked "
                                     "@revoked in a known_hosts file; refusing to connect")

    def missing_host_key(self, client, hostname, key):
        self.refuse_revoked(key)
        strict, files = self.host.strict, self.host.user_known_hosts
        if strict in ("yes", "ask"):
            raise _Failed(self.host, f"host key of {hostname} is not known ({key.get_name()} "
                                     f"{knownhosts.fingerprint(key)}); refusing to connect (StrictHostKeyChecking "
                                     f"{strict}): add it to {files[0] if files else 'a known_hosts file'}")
        if files:   # UserKnownHostsFile none: nothing is kept, as with OpenSSH
            listed = knownhosts.save(files[0], hostname, key, self.host.hash_known_hosts)
            if listed is not None:
                raise paramiko.BadHostKeyException(hostname, key, listed)


def _socket(host, port, timeout):
    """A TCP connection with Nagle off: SSH sends many small packets and waits for each answer, and
    Nagle plus delayed ACKs cost ~40 ms per command otherwise (measured on the lab: 47 ms -> 4 ms)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
