"""hafab.cli.common.reports_errors: how a task's failure reaches the operator (one line, the exit code)."""

import io
import subprocess
import sys

import pytest
from invoke import Exit

from hafab.cli.common import reports_errors
from hafab.engine.errors import HostError, InputError


def run(exc):
    """(exit code, stdout, stderr) of a task body raising `exc`."""
    @reports_errors
    def task(json=False):
        raise exc

    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        with pytest.raises(Exit) as raised:
            task()
    finally:
        sys.stdout, sys.stderr = saved
    return raised.value.code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("exc, code, line", [
    (InputError("hosts.yaml: cluster.vip", "not an address"), 2, "hosts.yaml: cluster.vip: not an address"),
    (HostError("web1: unreachable"), 1, "web1: unreachable"),
    (subprocess.TimeoutExpired(["ssh", "-F", "cfg", "web1", "systemctl stop x"], 60), 1,
     "ssh did not finish within 60 s; stopped it"),
    (subprocess.TimeoutExpired("sh -c x", 2.5), 1, "a command did not finish within 2.5 s; stopped it"),
])
def test_a_failure_is_one_line_and_its_exit_code(exc, code, line):
    got_code, out, err = run(exc)
    assert (got_code, out, err.splitlines()) == (code, "", [line])
    assert "Traceback" not in err
