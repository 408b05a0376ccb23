"""Issue 13, classes 5 and 9 end to end: `inv provision` over the loopback sshd. Bad state arguments exit 2
with one line before any connection; hostile values reach the host's shell as data; an unquoted 0640
gives the file 0640; a failed onchanges target leaves its dependent not run with result True."""

import json
import os
import stat

import pytest

from tests.e2e.conftest import inv, write_ssh_config
from tests.e2e.test_provision_ssh import make_project

# (case id, SLS under the one ID `bad`, words of the one-line error)
BAD_STATES = [
    ("cwd-list", "cmd.run:\n    - name: 'true'\n    - cwd: [a]", ["bad: cmd.run: cwd:", "['a']"]),
    ("env-key-injection", "cmd.run:\n    - name: 'true'\n    - env:\n        'A=1; touch TARGET/pwned; export A': x",
     ["bad: cmd.run: env:", "is not a shell variable name"]),
    ("package-option", "pkg.installed:\n    - pkgs: [curl, -y]", ["bad: pkg.installed: pkgs:", "'-y'"]),
    ("service-option", "service.running:\n    - name: --now", ["bad: service.running: name:", "'--now'"]),
    ("owner-option", "file.managed:\n    - name: TARGET/f\n    - contents: x\n    - user: -R",
     ["bad: file.managed: user:", "'-R'"]),
    ("absent-root", "file.absent:\n    - name: /etc/..", ["bad: file.absent: name: refusing to remove /"]),
    ("mode-not-octal", "file.managed:\n    - name: TARGET/f\n    - contents: x\n    - mode: 0986",
     ["bad: file.managed: mode:", "'0986'"]),
]


@pytest.mark.parametrize("sls, words", [c[1:] for c in BAD_STATES], ids=[c[0] for c in BAD_STATES])
def test_bad_state_argument_exits_2_with_one_line_before_connecting(tmp_path, sshd, sls, words):
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "proj").mkdir()
    root = make_project(tmp_path / "proj", target, f"bad:\n  {sls}\n", hosts=("alpha",))
    config = write_ssh_config(tmp_path / "ssh_config", sshd, ("alpha",))
    result = inv("provision", "--inventory", str(root / "hosts.yaml"), "--ssh-config", config)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("states/app.sls"), result.stderr
    assert all(w in lines[0] for w in words), lines[0]
    assert "Traceback" not in result.stderr and list(target.iterdir()) == []


TRUST_SLS = """
    secret:
      file.managed:
        - name: TARGET/{{ grains.id }}.cfg
        - contents: password
        - mode: 0640
    values:
      cmd.run:
        - name: printf '%s' "$A" > 'TARGET/{{ grains.id }} $(touch pwned).out'
        - cwd: TARGET
        - env:
          - A: "$(touch TARGET/pwned); `touch TARGET/pwned`"
        - creates: TARGET/{{ grains.id }} $(touch pwned).out
    broken:
      cmd.run:
        - name: exit 4
    after-broken:
      cmd.run:
        - name: touch TARGET/after-broken
        - onchanges:
          - cmd: broken
"""


def test_modes_values_and_onchanges_mean_what_salt_means_on_a_real_host(tmp_path, sshd):
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "proj").mkdir()
    root = make_project(tmp_path / "proj", target, TRUST_SLS, hosts=("alpha",))
    config = write_ssh_config(tmp_path / "ssh_config", sshd, ("alpha",))
    result = inv("provision", "--inventory", str(root / "hosts.yaml"), "--ssh-config", config, "--json")
    assert result.returncode == 1, result.stderr  # `broken` fails, as written
    rets = {ret["__id__"]: ret for ret in json.loads(result.stdout)["hosts"]["alpha"].values()}
    assert stat.S_IMODE(os.stat(target / "alpha.cfg").st_mode) == 0o640
    out = target / "alpha $(touch pwned).out"
    assert out.read_text() == "$(touch TARGET/pwned); `touch TARGET/pwned`".replace("TARGET", str(target))
    assert not (target / "pwned").exists() and rets["values"]["result"] is True
    assert rets["broken"]["result"] is False
    assert rets["after-broken"]["result"] is True and rets["after-broken"]["changes"] == {}
    assert rets["after-broken"]["comment"] == "State was not run because none of the onchanges reqs changed"
    assert not (target / "after-broken").exists()
    again = inv("provision", "--inventory", str(root / "hosts.yaml"), "--ssh-config", config, "--json")
    rets = {ret["__id__"]: ret for ret in json.loads(again.stdout)["hosts"]["alpha"].values()}
    assert rets["secret"]["changes"] == {} and rets["values"]["changes"] == {}
