"""A local stand-in for transport.Remote: runs the same sh scripts with subprocess (unit tests only)."""

import subprocess

from hafab.engine.transport import ExecResult


class LocalRemote:
    def __init__(self, name="local"):
        self.name = name
        self.channel_opens = 0
        self.scripts = []

    def run(self, script, stdin=b"", timeout=60):
        self.channel_opens += 1
        self.scripts.append(script)
        proc = subprocess.run(["sh", "-c", script], input=stdin, capture_output=True, timeout=timeout)
        return ExecResult(proc.returncode, proc.stdout.decode("utf-8", "surrogateescape"),
                          proc.stderr.decode("utf-8", "replace"))

    def close(self):
        pass
