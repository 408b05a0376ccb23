"""`inv provision` end to end over real SSH (sshd on loopback), states aimed at a temp directory."""

import json
import os
import subprocess
import textwrap

import pytest

from tests.e2e.conftest import inv, write_ssh_config

HOSTS = ("alpha", "beta")


def make_project(tmp_path, target, sls_text, hosts=HOSTS):
    (tmp_path / "states").mkdir()
    (tmp_path / "files").mkdir()
    lines = ["cluster:", "  vip: 10.99.0.10", "  subnet: 10.99.0.0/24", "  interface: eth1",
             "  virtual_router_id: 9", "hosts:"]
    for i, name in enumerate(hosts):
        lines += [f"  {name}:", f"    address: 10.99.0.{20 + i}", "    roles: [app]"]
    (tmp_path / "hosts.yaml").write_text("\n".join(lines) + "\n")
    (tmp_path / "states" / "top.sls").write_text("base:\n  'roles:app':\n    - match: pillar\n    - app\n")
    (tmp_path / "states" / "app.sls").write_text(textwrap.dedent(sls_text).replace("TARGET", str(target)))
    (tmp_path / "files" / "motd.j2").write_text("host {{ grains.id }} at {{ pillar.address }}\n")
    return tmp_path


APP_SLS = """
    {% set root = 'TARGET/' ~ grains.id %}
    app-dir:
      file.directory:
        - name: {{ root }}
        - makedirs: True
        - mode: '0750'
    motd:
      file.managed:
        - name: {{ root }}/motd
        - source: salt://motd.j2
        - template: jinja
        - mode: '0640'
        - require:
          - file: app-dir
    lines:
      file.append:
        - name: {{ root }}/lines
        - text: [one, two]
        - require: [app-dir]
    stamp:
      cmd.run:
        - name: echo ran >> {{ root }}/stamp-log
        - onchanges:
          - file: motd
    once:
      cmd.run:
        - name: touch {{ root }}/once
        - creates: {{ root }}/once
        - require: [app-dir]
    gone:
      file.absent:
        - name: {{ root }}/old
"""


@pytest.fixture
def project(tmp_path, sshd):
    target = tmp_path / "target"
    target.mkdir()
    root = make_project(tmp_path / "proj", target, APP_SLS) if (tmp_path / "proj").mkdir() is None else None
    config = write_ssh_config(tmp_path / "ssh_config", sshd, HOSTS)
    return {"root": root, "target": target, "config": config}


def provision(project, *flags):
    return inv("provision", "--inventory", str(project["root"] / "hosts.yaml"),
               "--ssh-config", project["config"], *flags)


def changed_keys(doc):
    return {(host, key) for host, results in doc["hosts"].items()
            for key, ret in results.items() if ret["changes"]}


def test_first_run_changes_second_run_changes_nothing(project):
    first = provision(project, "--json")
    assert first.returncode == 0, first.stderr + first.stdout
    doc = json.loads(first.stdout)
    assert doc["summary"]["failed"] == 0 and doc["summary"]["hosts"] == 2
    assert doc["summary"]["changed"] > 0
    motd = project["target"] / "alpha" / "motd"
    assert motd.read_text() == "host alpha at 10.99.0.20\n"
    assert oct(os.stat(motd).st_mode & 0o777) == "0o640"
    assert (project["target"] / "beta" / "lines").read_text() == "one\ntwo\n"
    second = provision(project, "--json")
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert again["summary"]["changed"] == 0
    assert (project["target"] / "alpha" / "stamp-log").read_text() == "ran\n"


def test_check_mode_predicts_exactly_and_changes_nothing(project):
    check = provision(project, "--json", "--check")
    assert check.returncode == 0, check.stderr
    predicted = json.loads(check.stdout)
    assert not (project["target"] / "alpha").exists()
    assert all(ret["result"] is None for results in predicted["hosts"].values()
               for ret in results.values() if ret["changes"])
    applied = json.loads(provision(project, "--json").stdout)
    # cmd.run 'stamp' is onchanges-triggered: check mode sees motd would change and predicts it too.
    assert changed_keys(predicted) == changed_keys(applied)


def test_highstate_output_and_summary(project):
    result = provision(project)
    assert result.returncode == 0
    assert "Summary for alpha" in result.stdout and "Succeeded:" in result.stdout
    assert "Function: file.managed" in result.stdout and "diff: New file" in result.stdout
    (project["target"] / "alpha" / "motd").write_text("old\n")
    repaired = provision(project)
    assert "-old" in repaired.stdout and "+host alpha at 10.99.0.20" in repaired.stdout
    clean = provision(project)
    assert "Result: Clean" in clean.stdout and "Function: file.managed\n" not in clean.stdout


def test_drift_is_repaired_and_reported_with_a_diff(project):
    provision(project)
    motd = project["target"] / "beta" / "motd"
    motd.write_text("tampered\n")
    os.chmod(motd, 0o666)
    result = provision(project, "--json")
    doc = json.loads(result.stdout)
    changes = doc["hosts"]["beta"]["file_|-motd_|-%s_|-managed" % motd]["changes"]
    assert "-tampered" in changes["diff"] and changes["mode"] == "0640"
    assert motd.read_text() == "host beta at 10.99.0.21\n"
    assert doc["summary"]["changed"] == 2  # motd and the onchanges stamp, on beta only


def test_failed_check_cmd_keeps_live_file_and_fails_dependents(tmp_path, sshd):
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "proj").mkdir()
    live = target / "live.cfg"
    live.write_text("good\n")
    root = make_project(tmp_path / "proj", target, """
        cfg:
          file.managed:
            - name: TARGET/live.cfg
            - contents: bad
            - check_cmd: grep -q good
        after:
          cmd.run:
            - name: touch TARGET/after
            - require:
              - file: cfg
    """, hosts=("alpha",))
    config = write_ssh_config(tmp_path / "ssh_config", sshd, ("alpha",))
    result = inv("provision", "--inventory", str(root / "hosts.yaml"), "--ssh-config", config, "--json")
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    rets = doc["hosts"]["alpha"]
    assert rets[f"file_|-cfg_|-{live}_|-managed"]["result"] is False
    assert "check_cmd" in rets[f"file_|-cfg_|-{live}_|-managed"]["comment"]
    assert rets[f"cmd_|-after_|-touch {target}/after_|-run"]["result"] is False
    assert "requisite failed" in rets[f"cmd_|-after_|-touch {target}/after_|-run"]["comment"]
    assert live.read_text() == "good\n"
    assert not (target / "after").exists()
    assert [p for p in os.listdir(target) if p.startswith(".hafab")] == []


def test_unreachable_host_is_reported_and_others_still_run(tmp_path, sshd):
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "proj").mkdir()
    root = make_project(tmp_path / "proj", target, APP_SLS)
    config = write_ssh_config(tmp_path / "ssh_config", sshd, HOSTS, dead=("beta",))
    result = inv("provision", "--inventory", str(root / "hosts.yaml"), "--ssh-config", config, "--json")
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert "beta" in doc["errors"] and "unreachable" in doc["errors"]["beta"]
    assert (target / "alpha" / "motd").exists()


def test_changed_host_key_is_refused(tmp_path, sshd):
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "proj").mkdir()
    root = make_project(tmp_path / "proj", target, APP_SLS, hosts=("alpha",))
    known = tmp_path / "known_hosts"
    other = "AAAAC3NzaC1lZDI1NTE5AAAAIOq0fWbd8HQ4aXzKAnhWcfPXQZcXD+R3hGJzJ6x4u5Zt"
    known.write_text(f"[127.0.0.1]:{sshd['port']} ssh-ed25519 {other}\n")
    config = write_ssh_config(tmp_path / "ssh_config", sshd, ("alpha",), known_hosts=str(known))
    result = inv("provision", "--inventory", str(root / "hosts.yaml"), "--ssh-config", config, "--json")
    assert result.returncode == 1
    assert "host key changed" in json.loads(result.stdout)["errors"]["alpha"]
    assert not (target / "alpha").exists()


def test_bad_input_exits_2_before_any_connection(tmp_path, sshd):
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "proj").mkdir()
    root = make_project(tmp_path / "proj", target, APP_SLS + "\n    broken:\n      file.managed:\n        - sorce: x\n")
    config = write_ssh_config(tmp_path / "ssh_config", sshd, HOSTS)
    result = inv("provision", "--inventory", str(root / "hosts.yaml"), "--ssh-config", config)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "sorce" in result.stderr
    assert list(target.iterdir()) == []


def test_a_key_the_host_does_not_accept_is_reported_and_changes_nothing(tmp_path, sshd):
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "proj").mkdir()
    root = make_project(tmp_path / "proj", target, APP_SLS, hosts=("alpha",))
    wrong_key = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong_key)], check=True)
    config = write_ssh_config(tmp_path / "ssh_config", {**sshd, "key": str(wrong_key)}, ("alpha",))
    result = inv("provision", "--inventory", str(root / "hosts.yaml"), "--ssh-config", config, "--json")
    assert result.returncode == 1
    error = json.loads(result.stdout)["errors"]["alpha"]
    assert "authentication" in error.lower()
    assert list(target.iterdir()) == []


def test_a_non_root_user_provisions_through_sudo(tmp_path, sshd, sudo_user):
    target = tmp_path / "target"
    target.mkdir(mode=0o700)  # only root may write here: the states work only through sudo
    os.chmod(tmp_path, 0o755)
    (tmp_path / "proj").mkdir()
    root = make_project(tmp_path / "proj", target, APP_SLS, hosts=("alpha",))
    config = write_ssh_config(tmp_path / "ssh_config", sshd, ("alpha",), user=sudo_user)
    first = inv("provision", "--inventory", str(root / "hosts.yaml"), "--ssh-config", config, "--json")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr
    motd = target / "alpha" / "motd"
    assert motd.read_text() == "host alpha at 10.99.0.20\n" and os.stat(motd).st_uid == 0
    again = json.loads(inv("provision", "--inventory", str(root / "hosts.yaml"), "--ssh-config", config,
                           "--json").stdout)
    assert again["summary"]["changed"] == 0 and not again["errors"]
