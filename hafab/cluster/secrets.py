"""The cluster's secret: the stats password file (made 0600 when missing), registered for redaction.

The file holds exactly one line of at least MIN_LENGTH characters from SAFE (letters, digits and
`._~+/=-`): no quote, space, backslash or `#`, which would end or change the value where a config
quotes it; anything else is refused (exit 2) and never shown.
"""

import os
import re
import secrets as _random
import stat
import tempfile

from hafab.engine import paths
from hafab.engine.errors import InputError
from hafab.engine.redact import MASK, redact, register  # noqa: F401  (re-exported)

MIN_LENGTH = 16
MAX_BYTES = 4096
SECRET_LIMIT = MAX_BYTES
SAFE = "A-Za-z0-9._~+/=-"
RULE = f"must hold one line of at least {MIN_LENGTH} characters from [{SAFE}]"
_SAFE_LINE = re.compile(f"[{SAFE}]+")

_passwords = {}  # absolute path -> password, so every host of a run reads the file once


def path_problem(root, setting):
    """Why `setting` cannot be the secret's path, or None: it must be relative and, every link resolved,
    stay inside the repository `root` and out of states/ and files/ (which are shipped and exported)."""
    if not isinstance(setting, str) or not setting:
        return "must be a path"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in setting):
        return "must not contain control characters"
    if os.path.isabs(setting):
        return "must be a path relative to the directory of hosts.yaml"
    path = os.path.join(root, setting)
    if not paths.inside(path, root):
        return "resolves outside the directory of hosts.yaml: the secret stays in the repository"
    for tree in ("states", "files"):
        if paths.inside(path, os.path.join(root, tree)):
            return f"lies in {tree}/, which hafab ships to hosts and salt.export copies: keep the secret out of it"
    return None


def stats_password(inventory):
    """The HAProxy stats password from cluster.stats_password_file, created on first use."""
    setting = inventory.cluster["stats_password_file"]
    problem = path_problem(inventory.root, setting)
    if problem:
        raise InputError(inventory.where, f"cluster.stats_password_file: {setting!r} {problem}")
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
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(where, f"cannot read the secret file: {exc.strerror}") from None
    return checked_secret(raw, where)


def checked_secret(raw, where):
    """The password in `raw` (the file's bytes), or InputError naming what breaks the rule (never the value)."""
    if len(raw) > MAX_BYTES:
        raise InputError(where, f"the secret file {RULE} (it is larger than {MAX_BYTES} bytes)")
    text = raw.decode("ascii", errors="replace")
    value = text[:-1] if text.endswith("\n") else text
    if not value:
        raise InputError(where, f"the secret file is empty: it {RULE}")
    if "\n" in value:
        raise InputError(where, f"the secret file {RULE} (it has {value.count(chr(10)) + 1} lines)")
    if not _SAFE_LINE.fullmatch(value):
        position = next(i for i, c in enumerate(value, 1) if not _SAFE_LINE.fullmatch(c))
        raise InputError(where, f"the secret file {RULE} (character {position} is not one of them)")
    if len(value) < MIN_LENGTH:
        raise InputError(where, f"the secret file {RULE} (it has {len(value)} characters)")
    return value
