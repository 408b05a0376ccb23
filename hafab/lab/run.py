"""Run one machine command with a time limit; a failure becomes one line naming the command."""

import subprocess
import time

from hafab.engine.errors import HostError


def run(argv, timeout=60, check=True, input=None):
    """Run argv, return its stdout (text). Raise HostError with stderr's last line on failure."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              input=input, stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise HostError(f"lab: `{' '.join(argv[:4])}` took more than {timeout}s") from None
    except FileNotFoundError:
        raise HostError(f"lab: `{argv[0]}` is not installed on this machine") from None
    if check and proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        why = lines[-1] if lines else f"exit {proc.returncode}"
        raise HostError(f"lab: `{' '.join(argv[:4])}` failed: {why}")
    return proc.stdout


def ok(argv, timeout=30):
    """True when argv exits 0 (its output is discarded)."""
    try:
        return subprocess.run(argv, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL).returncode == 0
    except (subprocess.TimeoutExpired, FileNotFoundError):
        return False


def stream(argv, on_line, timeout=1800):
    """Run argv, passing each output line (stdout and stderr merged) to on_line; raise on failure."""
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise HostError(f"lab: `{argv[0]}` is not installed on this machine") from None
    deadline = time.monotonic() + timeout
    last = ""
    with proc:
        for line in proc.stdout:  # ends when the command closes its output
            last = line.strip() or last
            on_line(line.rstrip("\n"))
            if time.monotonic() > deadline:
                proc.kill()
                raise HostError(f"lab: `{' '.join(argv[:4])}` took more than {timeout}s")
        try:
            proc.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            raise HostError(f"lab: `{' '.join(argv[:4])}` took more than {timeout}s") from None
    if proc.returncode != 0:
        raise HostError(f"lab: `{' '.join(argv[:4])}` failed: {last or f'exit {proc.returncode}'}")
