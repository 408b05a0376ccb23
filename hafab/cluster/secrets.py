"""The cluster's secret: the stats password file (made 0600 when missing), registered for redaction."""

import os
import secrets as _random
import stat
import tempfile

from hafab.engine import readfile
from hafab.engine.errors import InputError
from hafab.engine.redact import MASK, redact, register  # noqa: F401  (re-exported)

SECRET_LIMIT = 4096  # bytes: a password file is one short line
_passwords = {}  # absolute path -> password, so every host of a run reads the file once


def stats_password(inventory):
    """The HAProxy stats password from cluster.stats_password_file, created on first use."""
    setting = inventory.cluster["stats_password_file"]
    path = os.path.join(inventory.root, setting)
    if path not in _passwords:
        where = f"{setting} (cluster.stats_password_file)"
        if not os.path.exists(path):
            _create(path, where)
        _passwords[path] = _read(path, where)
        register(_passwords[path])
    return _passwords[path]


def _create(path, where):
    """Write a fresh password atomically; if another run made the file first, keep theirs."""
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")  # mkstemp makes it 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(_random.token_urlsafe(24) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            # link() fails when the file exists, unlike rename(): a concurrent run's password wins.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    except OSError as exc:
        raise InputError(where, f"cannot create the secret file: {exc.strerror}") from None


def _read(path, where):
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise InputError(where, "is not a regular file")
        if mode & 0o077:
            raise InputError(where, f"mode {stat.S_IMODE(mode):04o} lets other users read it: run chmod 600 on it")
        password = readfile.read_text(path, where, limit=SECRET_LIMIT).strip()
    except OSError as exc:
        raise InputError(where, f"cannot read the secret file: {exc.strerror}") from None
    if not password:
        raise InputError(where, "the secret file is empty")
    return password
