"""Progress of a long run on stderr: a live line on a terminal, notable events only otherwise.

Each line passes the output boundary (secrets masked, controls escaped); the live line's own `\r` and
erase sequence are the only controls written raw."""

import sys
import threading
import time

from hafab.engine import boundary


class Progress:
    def __init__(self, total, what, stream=None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.total = total
        self.what = what
        self.finished = set()
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.last = ""

    def event(self, host, message):
        with self.lock:
            if message.startswith(("done", "failed")):
                self.finished.add(host)
            line = boundary.line(f"{self.what}: {len(self.finished)}/{self.total} hosts done - {host}: {message}")
            if self.live:
                self.stream.write("\r\033[K" + line[:160])
                self.stream.flush()
            elif not message.startswith(("connected", "done")):
                self.stream.write(line + "\n")

    def done(self):
        if self.live:
            self.stream.write("\r\033[K")
            self.stream.flush()
