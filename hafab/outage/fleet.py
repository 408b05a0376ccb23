"""SSH to the cluster's hosts during an outage: one connection per host, opened again after it broke,
and running one action on several hosts at once."""

import threading

from hafab.engine import transport
from hafab.engine.errors import HostError


class Fleet:
    """One SSH connection per host, opened on first use and again after it broke."""

    def __init__(self, ssh_config, connect_timeout=3.0):
        self.ssh_config = ssh_config
        self.connect_timeout = connect_timeout
        self._remotes = {}
        self._locks = {}
        self._lock = threading.Lock()

    def run(self, name, script, timeout=10):
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            remote = self._remotes.get(name)
            if remote is None:
                try:
                    remote = transport.connect(name, self.ssh_config, timeout=self.connect_timeout)
                except HostError:
                    raise
                except Exception as exc:  # noqa: BLE001 - e.g. paramiko's parse errors: one line, exit 1
                    raise HostError(f"{name}: SSH failed: {exc}") from None
                self._remotes[name] = remote
        try:
            return remote.run(script, timeout=timeout)
        except HostError:
            self.forget(name)
            raise

    def forget(self, name):
        with self._lock:
            remote = self._remotes.pop(name, None)
        if remote:
            try:
                remote.close()
            except Exception:  # noqa: BLE001 - a broken connection may fail to close
                pass

    def close(self):
        for name in list(self._remotes):
            self.forget(name)


def in_parallel(names, action):
    """Run action(name) for every name, each in its own thread; return when all are done."""
    threads = [threading.Thread(target=action, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def each(names, action):
    """Run action(name) for every name at once; the one-line errors of those that failed."""
    errors = []

    def one(name):
        try:
            action(name)
        except Exception as exc:  # noqa: BLE001 - reported, the others go on
            errors.append(str(exc))
    in_parallel(names, one)
    return errors
