"""Run history, `inv rollback` and `--detailed-exitcode` end to end over real SSH (one host on loopback).

The states manage files under a temp dir; the history lives in $HAFAB_RUNS_DIR (tests/e2e/conftest.py).
"""

import json
import os
import shutil

import pytest

from tests.e2e.conftest import inv, write_ssh_config
from tests.e2e.test_provision_ssh import make_project

SLS = """
    {% set root = 'TARGET/' ~ grains.id %}
    conf:
      file.managed:
        - name: {{ root }}/app.conf
        - contents: "{{ pillar.get('conf_line', 'weight 1') }}"
        - mode: '0640'
        - check_cmd: grep -q weight
    made:
      file.managed:
        - name: {{ root }}/made.conf
        - contents: "made by the run"
    gone:
      file.absent:
        - name: {{ root }}/old.conf
"""


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """This test's own history (all hosts are this machine here)."""
    monkeypatch.setenv("HAFAB_RUNS_DIR", str(tmp_path / "runs"))
    return str(tmp_path / "runs")


@pytest.fixture
def one(tmp_path, sshd, runs_dir):
    target = tmp_path / "target"
    (target / "alpha").mkdir(parents=True)
    (tmp_path / "proj").mkdir()
    root = make_project(tmp_path / "proj", target, SLS, hosts=("alpha",))
    config = write_ssh_config(tmp_path / "ssh_config", sshd, ("alpha",))
    home = target / "alpha"
    (home / "app.conf").write_text("weight 5\n")
    os.chmod(home / "app.conf", 0o600)
    (home / "old.conf").write_text("the old one\n")
    return {"root": root, "home": home, "config": config, "inventory": str(root / "hosts.yaml")}


def run(one, task, *flags):
    return inv(task, "--inventory", one["inventory"], "--ssh-config", one["config"], *flags)


def history(one):
    result = run(one, "history", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)["hosts"]["alpha"]["runs"]


def snapshot(home):
    return {name: ((home / name).read_text(), oct(os.stat(home / name).st_mode & 0o7777))
            for name in sorted(os.listdir(home))}


def test_a_run_is_kept_and_rolled_back_and_the_rollback_too(one):
    before = snapshot(one["home"])
    first = run(one, "provision")
    assert first.returncode == 0, first.stdout + first.stderr
    after = snapshot(one["home"])
    assert after != before and "old.conf" not in after and "made.conf" in after
    [record] = history(one)
    assert {f["path"].rsplit("/", 1)[1]: f["change"] for f in record["files"]} == {
        "app.conf": "replaced", "made.conf": "created", "old.conf": "removed"}
    assert record["kind"] == "provision" and record["cluster"] == "proj" and "@" in record["who"]

    check = run(one, "rollback", "--last", "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "-weight 1\n" in check.stdout.replace("          ", "") or "-weight 1" in check.stdout
    assert snapshot(one["home"]) == after                     # --check changed nothing

    back = run(one, "rollback", "--last")
    assert back.returncode == 0, back.stdout + back.stderr
    assert snapshot(one["home"]) == before                    # content and mode, byte for byte
    runs = history(one)
    assert [r["kind"] for r in runs] == ["rollback", "provision"] and runs[0]["rolls_back"] == record["id"]

    again = run(one, "rollback", "--last")                    # the rollback of the rollback
    assert again.returncode == 0, again.stdout + again.stderr
    assert snapshot(one["home"]) == after
    noop = run(one, "provision", "--json")
    assert json.loads(noop.stdout)["summary"]["changed"] == 0
    assert len(history(one)) == 3                             # a no-op records nothing


def test_a_hand_edit_since_the_run_is_refused_by_name_unless_forced(one):
    assert run(one, "provision").returncode == 0
    [record] = history(one)
    (one["home"] / "app.conf").write_text("weight 9 (by hand)\n")
    refused = run(one, "rollback", "--last")
    assert refused.returncode == 1
    assert f"{one['home']}/app.conf changed on the host since run {record['id']}" in refused.stdout
    assert (one["home"] / "app.conf").read_text() == "weight 9 (by hand)\n"
    assert (one["home"] / "old.conf").read_text() == "the old one\n"   # the other files were rolled back
    forced = run(one, "rollback", "--run", record["id"], "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert (one["home"] / "app.conf").read_text() == "weight 5\n"


def test_keep_runs_prunes_the_oldest(one):
    path = one["inventory"]
    text = open(path).read().replace("  virtual_router_id: 9\n", "  virtual_router_id: 9\n  keep_runs: 2\n")
    ids = []
    for weight in (1, 2, 3):
        with open(path, "w") as fh:
            fh.write(text.replace("roles: [app]", f"roles: [app]\n    vars: {{conf_line: 'weight {weight}'}}"))
        assert run(one, "provision").returncode == 0
        ids.append(history(one)[0]["id"])
    assert [r["id"] for r in history(one)] == [ids[2], ids[1]]
    unknown = run(one, "rollback", "--run", ids[0])
    assert unknown.returncode == 2 and f"no chosen host has run {ids[0]}" in unknown.stderr


@pytest.mark.parametrize("flags, message", [
    (("--last", "--run", "20261201T000000Z-abcdef"), "--run: give --run ID or --last, not both"),
    ((), "--run: say which run to roll back"),
    (("--run", "yesterday"), "--run: 'yesterday' is not a run id"),
    (("--run", "20261201T000000Z-abcdef"), "no chosen host has run 20261201T000000Z-abcdef"),
    (("--last",), "--last: no chosen host has a run of cluster 'proj'"),
])
def test_bad_rollback_requests_are_exit_2_and_change_nothing(one, flags, message):
    before = snapshot(one["home"])
    result = run(one, "rollback", *flags)
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1
    assert snapshot(one["home"]) == before


def test_a_corrupt_record_or_another_clusters_run_is_refused(one, runs_dir):
    assert run(one, "provision").returncode == 0
    [record] = history(one)
    path = os.path.join(runs_dir, record["id"], "record.json")
    original = open(path).read()
    with open(path, "w") as fh:
        fh.write(original.replace('"provision"', '"rollback"'))   # edited by hand: the digest no longer matches
    listed = run(one, "history")
    assert listed.returncode == 0 and "unusable: run" in listed.stdout
    edited = run(one, "rollback", "--run", record["id"])
    assert edited.returncode == 2 and "was changed after hafab wrote it" in edited.stderr
    with open(path, "w") as fh:
        fh.write(original)
    other = one["inventory"].replace("hosts.yaml", "other.yaml")
    shutil.copy(one["inventory"], other)
    text = open(other).read().replace("cluster:\n", "cluster:\n  name: elsewhere\n")
    with open(other, "w") as fh:
        fh.write(text)
    foreign = inv("rollback", "--inventory", other, "--ssh-config", one["config"], "--run", record["id"])
    assert foreign.returncode == 2 and "is a run of cluster 'proj', not of 'elsewhere'" in foreign.stderr


def test_detailed_exitcode_tells_drift(one):
    assert run(one, "provision").returncode == 0
    converged = run(one, "provision", "--check", "--detailed-exitcode")
    assert converged.returncode == 0, converged.stdout + converged.stderr
    (one["home"] / "app.conf").write_text("weight 1\nby hand\n")
    drift = run(one, "provision", "--check", "--detailed-exitcode")
    assert drift.returncode == 3 and "+by hand" not in drift.stdout and "-by hand" in drift.stdout
    alone = run(one, "provision", "--detailed-exitcode")
    assert alone.returncode == 2 and "--detailed-exitcode: only with --check" in alone.stderr
