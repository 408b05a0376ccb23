"""known_hosts files as OpenSSH reads and writes them: the keys listed for one host, and a new key saved.

A line is `[@marker] names keytype base64 [comment]`; `names` is a comma list of names or `[name]:port`,
plain, with `*`/`?` patterns and `!` negation, or hashed (`|1|salt|hash`). `@revoked` keys are refused;
`@cert-authority` lines are skipped (hafab does not check host certificates, so such a host is unknown).
A new key is saved (StrictHostKeyChecking accept-new or no) atomically to the first UserKnownHostsFile:
the file's mode and owner kept, a new file made 0600, one writer at a time (a lock on its directory),
and the file read again under the lock so two connections to one address never save two keys.
"""

import base64
import fcntl
import hashlib
import hmac
import os
import stat
import threading

import paramiko

from hafab.engine import atomicfile
from hafab.engine.ssh_config import match_pattern

MAX_BYTES = 16 << 20
_SAVE_LOCK = threading.Lock()


class KnownHostsError(Exception):
    """A known_hosts file that cannot be used (the message names it)."""


def fingerprint(key):
    """OpenSSH's SHA256:... fingerprint of a key."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


def usable(path):
    """'' when `path` may be read as a known_hosts file (missing is fine), else why not."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return ""
    except OSError as exc:
        return exc.strerror or str(exc)
    if stat.S_ISREG(mode) or stat.S_ISCHR(mode):  # a character device: /dev/null, nothing kept
        return ""
    return "not a regular file"


def read(path):
    """The text of a known_hosts file ('' when missing or a device); KnownHostsError when unusable."""
    problem = usable(path)
    if problem:
        raise KnownHostsError(f"known_hosts file {path}: {problem}")
    try:
        with open(path, "rb", opener=lambda p, flags: os.open(p, flags | os.O_NONBLOCK)) as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return ""
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise KnownHostsError(f"known_hosts file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise KnownHostsError(f"known_hosts file {path}: larger than {MAX_BYTES >> 20} MiB")
    return data.decode("utf-8", "replace")


def _name_matches(hostname, names):
    """OpenSSH's host matching in known_hosts: any positive name matches and no negated one does."""
    hit = False
    for name in names.split(","):
        if name.startswith("|1|"):
            try:
                salt, digest = (base64.b64decode(p) for p in name[3:].split("|", 1))
            except (ValueError, TypeError):
                continue
            hit = hit or hmac.compare_digest(hmac.new(salt, hostname.encode(), hashlib.sha1).digest(), digest)
        elif name.startswith("!"):
            if match_pattern(hostname, name[1:]):
                return False
        elif match_pattern(hostname, name):
            hit = True
    return hit


def keys_for(text, hostname):
    """([known PKey], [revoked PKey]) that the known_hosts text lists for `hostname` ('[h]:p' off port 22)."""
    known, revoked = [], []
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        marker = fields.pop(0) if fields[0].startswith("@") else ""
        if len(fields) < 3 or marker not in ("", "@revoked") or not _name_matches(hostname, fields[0]):
            continue
        try:
            key = paramiko.PKey.from_type_string(fields[1], base64.b64decode(fields[2]))
        except Exception:  # noqa: BLE001 - a key type or encoding the SSH library cannot read: skipped
            continue
        (revoked if marker else known).append(key)
    return known, revoked


def lookup(paths, hostname):
    """([known], [revoked]) keys for `hostname` over every file of `paths`; KnownHostsError."""
    known, revoked = [], []
    for path in paths:
        more, gone = keys_for(read(path), hostname)
        known += more
        revoked += gone
    return known, revoked


def same(a, b):
    return a.get_name() == b.get_name() and a.asbytes() == b.asbytes()


def save(path, hostname, key, hashed=False):
    """Add `key` for `hostname` to `path`; returns the key listed there meanwhile when it differs (the
    caller refuses it), else None. A character device (/dev/null) keeps nothing; KnownHostsError."""
    real = os.path.realpath(os.path.expanduser(path))
    directory = os.path.dirname(real) or "."
    with _SAVE_LOCK:
        try:
            lock_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise KnownHostsError(f"cannot save the host key to {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            return _save_locked(path, real, hostname, key, hashed)
        finally:
            os.close(lock_fd)


def _save_locked(path, real, hostname, key, hashed):
    text = read(real)
    try:
        info = os.stat(real)
    except FileNotFoundError:
        info = None
    if info is not None and not stat.S_ISREG(info.st_mode):
        return None
    known, _ = keys_for(text, hostname)
    for other in known:
        if same(other, key):
            return None
        if other.get_name() == key.get_name():
            return other
    name = paramiko.HostKeys.hash_host(hostname) if hashed else hostname
    line = f"{name} {key.get_name()} {key.get_base64()}\n"
    data = (text + ("\n" if text and not text.endswith("\n") else "") + line).encode()
    try:
        _replace(real, data, info)
    except OSError as exc:
        raise KnownHostsError(f"cannot save the host key to {path}: {exc.strerror or exc}") from None
    return None


def _replace(real, data, info):
    """Replace `real` with `data` atomically, keeping its mode and (as root) its owner."""
    keep_owner = info and os.geteuid() == 0 and (info.st_uid, info.st_gid) != (0, 0)
    atomicfile.write(real, data, stat.S_IMODE(info.st_mode) if info else 0o600,
                     owner=(info.st_uid, info.st_gid) if keep_owner else None)
