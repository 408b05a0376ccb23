"""A run that is interrupted leaves nothing half done; two runs at once take turns host by host."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.e2e.conftest import REPO, write_ssh_config
from tests.e2e.test_provision_ssh import make_project

SLOW_SLS = """
    slow:
      file.managed:
        - name: TARGET/slow.conf
        - contents: new content
        - check_cmd: sh -c 'sleep 2; test -s "$0"'  # Salt runs check_cmd without a shell
    after:
      cmd.run:
        - name: touch TARGET/after
        - require:
          - file: slow
"""


def start_provision(root, config, *flags):
    exe = os.path.join(os.path.dirname(sys.executable), "inv")
    return subprocess.Popen([exe, "--search-root", REPO, "provision", "--inventory", str(root / "hosts.yaml"),
                             "--ssh-config", config, *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def wait_for(predicate, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def temp_files(directory):
    return [p for p in os.listdir(directory) if p.startswith(".hafab-")]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_finishes_the_command_in_flight_and_starts_nothing_more(tmp_path, sshd, signum):
    target = tmp_path / "target"
    target.mkdir()
    (target / "slow.conf").write_text("old content\n")
    (tmp_path / "proj").mkdir()
    root = make_project(tmp_path / "proj", target, SLOW_SLS, hosts=("alpha",))
    config = write_ssh_config(tmp_path / "ssh_config", sshd, ("alpha",))
    proc = start_provision(root, config)
    try:
        assert wait_for(lambda: temp_files(target)), "the write never started"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    assert "interrupted" in err
    assert "interrupted before after" in out
    assert temp_files(target) == []
    assert (target / "slow.conf").read_text() in ("old content\n", "new content\n")
    assert not (target / "after").exists()


def test_two_runs_at_once_take_turns_on_each_host(tmp_path, sshd):
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "proj").mkdir()
    root = make_project(tmp_path / "proj", target, """
        turn:
          cmd.run:
            - name: echo start >> TARGET/log; sleep 4; echo end >> TARGET/log
    """, hosts=("alpha",))
    config = write_ssh_config(tmp_path / "ssh_config", sshd, ("alpha",))
    first = start_provision(root, config)
    assert wait_for(lambda: (target / "log").exists())
    second = start_provision(root, config)
    out1, err1 = first.communicate(timeout=60)
    out2, err2 = second.communicate(timeout=60)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert "waiting for the lock held by" in err2 and "pid" in err2
    assert (target / "log").read_text() == "start\nend\nstart\nend\n"
