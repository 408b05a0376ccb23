"""Reading an input file in bounded time and memory: every file hafab reads comes through here.

A path that is missing, a directory, a FIFO (reading one waits for a writer for ever), a device (a link to
/dev/zero never ends), a socket, larger than the limit, or (for text) not UTF-8 is an InputError: one line
naming `where`, exit 2. The file is stat'ed before it is opened, opened without blocking and without
becoming a controlling terminal, checked again on the open descriptor, and read up to limit + 1 bytes.
"""

import errno
import os
import stat

from hafab.engine.errors import InputError

LIMIT = 8 * 1024 * 1024  # bytes; callers pass a smaller one where a file is expected to be small

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def read_text(path, where, limit=LIMIT):
    """The file's text, decoded as UTF-8; InputError naming `where` when it cannot be (see the module)."""
    data = read_bytes(path, where, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(where, f"is not UTF-8 text (line {line}, byte offset {exc.start})") from None


def read_bytes(path, where, limit=LIMIT):
    """The file's bytes (at most `limit`); InputError naming `where` when it is not a readable regular file."""
    require_regular(path, where)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise _os_error(where, exc) from None
    try:
        _refuse_kind(os.fstat(fd).st_mode, where)  # the file may have been swapped since the stat
        data = _read_at_most(fd, limit + 1)
    except OSError as exc:
        raise _os_error(where, exc) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise InputError(where, f"is larger than {_size(limit)}: refusing to read it")
    return data


def require_regular(path, where):
    """InputError unless `path` (links followed) is an existing regular file; reads nothing."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise _os_error(where, exc) from None
    _refuse_kind(mode, where)


def _refuse_kind(mode, where):
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    raise InputError(where, f"is {kind}, not a regular file")


def _read_at_most(fd, size):
    chunks, left = [], size
    while left > 0:
        chunk = os.read(fd, min(left, 1024 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _os_error(where, exc):
    if exc.errno == errno.ENOENT:
        return InputError(where, "file not found")
    if exc.errno == errno.ELOOP:
        return InputError(where, "is a loop of symbolic links")
    return InputError(where, f"cannot read it: {exc.strerror or exc}")


def _size(limit):
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if limit >= factor and limit % factor == 0:
            return f"{limit // factor} {unit}"
    return f"{limit} bytes"
