"""Runner semantics with a local transport: requisites, onchanges, watch/mod_watch, check mode, batching."""

import textwrap

import pytest

from hafab.cluster import inventory, minions
from hafab.engine import runner
from hafab.engine.errors import InputError
from hafab.engine.states.base import REGISTRY, Outcome, Plan, StateFunction
from tests.unit.localhost import LocalRemote


class Counter(StateFunction):
    """test.counter: changes when its marker file is missing; mod_watch records a restart."""

    function = "test.counter"
    args = frozenset({"marker"})

    def prepare(self, state, ctx):
        state.prepared["marker"] = state.args["marker"]

    def query(self, state, q):
        q.exists.add(state.prepared["marker"])

    def plan(self, state, facts):
        if facts.exists.get(state.prepared["marker"]):
            return Plan(comment="present")
        return Plan(changes={"created": state.prepared["marker"]}, comment="would create")

    def apply(self, state, plan, host):
        host.run(f"touch {state.prepared['marker']}")
        return Outcome(True, "created", plan.changes)

    def mod_watch(self, state, host, facts):
        if host.check:
            return Outcome(None, "would restart", {state.name: True})
        host.run(f"echo restart >> {state.prepared['marker']}.restarts")
        return Outcome(True, "restarted", {state.name: True})


@pytest.fixture(autouse=True)
def counter_function():
    REGISTRY["test.counter"] = Counter()
    yield
    REGISTRY.pop("test.counter")


def compile_tree(tmp_path, sls_text):
    (tmp_path / "states").mkdir()
    (tmp_path / "files").mkdir()
    (tmp_path / "hosts.yaml").write_text(textwrap.dedent("""\
        cluster: {vip: 10.9.0.10, subnet: 10.9.0.0/24, interface: eth1, virtual_router_id: 9}
        hosts:
          one: {address: 10.9.0.20, roles: [app]}
    """))
    (tmp_path / "states" / "top.sls").write_text("base:\n  'roles:app':\n    - match: pillar\n    - app\n")
    (tmp_path / "states" / "app.sls").write_text(textwrap.dedent(sls_text).replace("TMP", str(tmp_path)))
    inv = inventory.load(str(tmp_path / "hosts.yaml"))
    return minions.compile_host(inv, "one")


def run(states, check=False):
    remote = LocalRemote()
    report = runner.HostReport("one")
    host = runner.HostRun("one", states, remote, check, deadline=10 ** 12)
    host.facts = host.gather(states)
    runner._run_states(host, report, lambda *a: None)
    by_id = {ret["__id__"]: ret for ret in report.results.values()}
    return by_id, remote


def test_watch_restarts_only_when_a_watched_state_changed(tmp_path):
    states = compile_tree(tmp_path, """
        conf:
          file.managed:
            - name: TMP/app.conf
            - contents: v1
        svc:
          test.counter:
            - marker: TMP/svc
            - watch:
              - file: conf
    """)
    (tmp_path / "svc").touch()
    first, _ = run(states)
    assert first["conf"]["changes"] and first["svc"]["comment"] == "restarted"
    assert (tmp_path / "svc.restarts").read_text() == "restart\n"
    second, _ = run(states)
    assert second["svc"]["changes"] == {} and second["svc"]["comment"] == "present"
    assert (tmp_path / "svc.restarts").read_text() == "restart\n"


def test_a_watching_state_that_changes_itself_is_not_restarted(tmp_path):
    states = compile_tree(tmp_path, """
        conf:
          file.managed:
            - name: TMP/app.conf
            - contents: v1
        svc:
          test.counter:
            - marker: TMP/svc
            - watch:
              - file: conf
    """)
    result, _ = run(states)
    assert result["svc"]["comment"] == "created"
    assert not (tmp_path / "svc.restarts").exists()


def test_onchanges_runs_only_after_a_change(tmp_path):
    states = compile_tree(tmp_path, """
        conf:
          file.managed:
            - name: TMP/app.conf
            - contents: v1
        reload:
          cmd.run:
            - name: echo x >> TMP/reloads
            - onchanges:
              - file: conf
    """)
    first, _ = run(states)
    assert first["reload"]["result"] is True and first["reload"]["changes"]["retcode"] == 0
    second, _ = run(states)
    assert second["reload"]["changes"] == {}
    assert "none of the onchanges" in second["reload"]["comment"]
    assert (tmp_path / "reloads").read_text() == "x\n"


def test_failed_requirement_fails_dependents_with_a_comment_naming_it(tmp_path):
    states = compile_tree(tmp_path, """
        broken:
          cmd.run:
            - name: exit 4
        dependent:
          cmd.run:
            - name: touch TMP/dependent
            - require:
              - cmd: broken
        watcher:
          test.counter:
            - marker: TMP/w
            - watch_in: []
            - watch:
              - broken
    """)
    result, _ = run(states)
    assert result["broken"]["result"] is False and result["broken"]["changes"]["retcode"] == 4
    assert result["dependent"]["result"] is False
    assert "requisite failed" in result["dependent"]["comment"] and "broken" in result["dependent"]["comment"]
    assert result["watcher"]["result"] is False
    assert not (tmp_path / "dependent").exists()


def test_unless_onlyif_and_creates(tmp_path):
    (tmp_path / "exists").touch()
    states = compile_tree(tmp_path, """
        skipped-unless:
          cmd.run:
            - name: touch TMP/a
            - unless: test -e TMP/exists
        skipped-onlyif:
          cmd.run:
            - name: touch TMP/b
            - onlyif: test -e TMP/missing
        skipped-creates:
          cmd.run:
            - name: touch TMP/c
            - creates: TMP/exists
        runs:
          cmd.run:
            - name: touch TMP/d
            - unless: test -e TMP/missing
            - onlyif: ['true', test -e TMP/exists]
    """)
    result, _ = run(states)
    assert result["skipped-unless"]["comment"] == "unless condition is true"
    assert result["skipped-onlyif"]["comment"] == "onlyif condition is false"
    assert result["skipped-creates"]["comment"].endswith("/exists exists")  # Salt's wording for one path
    assert result["runs"]["changes"]["retcode"] == 0
    assert sorted(p.name for p in tmp_path.iterdir() if len(p.name) == 1) == ["d"]


def test_check_mode_predicts_and_changes_nothing(tmp_path):
    states = compile_tree(tmp_path, """
        conf:
          file.managed:
            - name: TMP/app.conf
            - contents: v1
        svc:
          test.counter:
            - marker: TMP/svc
            - watch:
              - file: conf
    """)
    (tmp_path / "svc").touch()
    result, remote = run(states, check=True)
    assert result["conf"]["result"] is None and result["conf"]["changes"]["diff"] == "New file"
    assert result["svc"]["result"] is None and result["svc"]["comment"] == "would restart"
    assert not (tmp_path / "app.conf").exists()
    assert remote.channel_opens == 1  # facts only


def test_noop_run_is_one_round_trip(tmp_path):
    states = compile_tree(tmp_path, """
        conf:
          file.managed:
            - name: TMP/app.conf
            - contents: v1
        tune:
          file.append:
            - name: TMP/app.conf
            - text: v1
    """)
    run(states)
    result, remote = run(states)
    assert all(ret["result"] is True and not ret["changes"] for ret in result.values())
    assert remote.channel_opens == 1


def test_a_boolean_condition_is_bad_input(tmp_path):
    with pytest.raises(InputError, match="onlyif: .*must be a shell command"):
        compile_tree(tmp_path, """
            x:
              cmd.run:
                - name: 'true'
                - onlyif: [true]
        """)


def test_failed_check_cmd_leaves_the_live_file_and_no_temp_file(tmp_path):
    (tmp_path / "live.cfg").write_text("good\n")
    states = compile_tree(tmp_path, """
        cfg:
          file.managed:
            - name: TMP/live.cfg
            - contents: bad
            - check_cmd: grep -q good
    """)
    result, _ = run(states)
    assert result["cfg"]["result"] is False and "check_cmd" in result["cfg"]["comment"]
    assert (tmp_path / "live.cfg").read_text() == "good\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".hafab")]
