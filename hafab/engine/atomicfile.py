"""A local file replaced whole or not at all: written to a temporary file beside it, synced, renamed over."""

import os
import tempfile


def write(path, data, mode, owner=None):
    """Replace `path` with the bytes `data`, file mode `mode` and, when given, `owner` (uid, gid), both
    set before any byte is written, so a key is never readable by others even for a moment. On any
    failure the temporary file is removed and `path` is left as it was."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            if owner is not None:
                os.fchown(fh.fileno(), *owner)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
