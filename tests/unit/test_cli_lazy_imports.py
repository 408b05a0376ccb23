"""Tasks import the cluster and lab code when they run: `inv --list` loads none of it, and a task that
runs still finds everything it uses (each task's --help and a bad-input run go through it)."""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PROBE = """
import io, json, sys, contextlib
from invoke.main import program
with contextlib.redirect_stdout(io.StringIO()):
    program.run(["inv", "--search-root", sys.argv[1], "--list"], exit=False)
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("hafab.cluster", "hafab.lab", "hafab.verify",
                                                                 "hafab.outage", "jinja2", "paramiko")))))
"""


def test_inv_list_loads_no_cluster_lab_or_ssh_code():
    result = subprocess.run([sys.executable, "-c", PROBE, REPO], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


@pytest.mark.parametrize("task,args", [
    ("provision", ["--hosts", "bad_name!"]),
    ("history", ["--hosts", "bad_name!"]),
    ("rollback", ["--run", "x", "--hosts", "bad_name!"]),
    ("outage", ["--host", "bad_name!"]),
    ("lab.down", ["--host", "bad_name!"]),
    ("salt.export", ["--inventory", "no-such-file.yaml"]),
    ("salt.master", ["--inventory", "no-such-file.yaml"]),
])
def test_a_task_still_loads_what_it_uses(tmp_path, task, args):
    inv = os.path.join(os.path.dirname(sys.executable), "inv")
    result = subprocess.run([inv, "--search-root", REPO, task, *args], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
