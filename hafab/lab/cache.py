"""A directory built once and reused: complete only when its marker holds the recipe's digest, built
into a temp dir under a lock (one builder at a time) and renamed into place."""

import contextlib
import fcntl
import os
import shutil


class BuiltOnce:
    def __init__(self, path, marker, lock_path, digest):
        self.path, self.marker, self.lock_path, self.digest = path, marker, lock_path, digest

    def is_ready(self, path=None):
        try:
            with open(os.path.join(path or self.path, self.marker)) as f:
                return f.read().strip() == self.digest
        except OSError:
            return False

    def ensure(self, build):
        """The directory, after `build(tmp_dir)` filled it, unless a complete one is already there.

        Returns True when this call built it."""
        if self.is_ready():
            return False
        os.makedirs(os.path.dirname(self.lock_path), exist_ok=True)
        with self.locked():
            if self.is_ready():  # another process built it while we waited
                return False
            tmp = f"{self.path}.build-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(tmp)
            try:
                build(tmp)
                with open(os.path.join(tmp, self.marker), "w") as f:
                    f.write(self.digest + "\n")
                old = f"{self.path}.old-{os.getpid()}"
                if os.path.exists(self.path):
                    os.rename(self.path, old)
                os.rename(tmp, self.path)
                shutil.rmtree(old, ignore_errors=True)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return True

    @contextlib.contextmanager
    def locked(self):
        with open(self.lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
