"""Issue 13, class 9 (Salt's meaning, and guards): SLS values mean what Salt's loader makes of them,
every argument's type is checked at compile time, file.absent guards on the path as the host resolves it,
and a failed onchanges target leaves its dependent not run with result True (Salt 3008)."""

import os
import stat
import subprocess

import pytest

from hafab.engine import yamlio
from hafab.engine.errors import InputError
from hafab.engine.model import State
from hafab.engine.states import REGISTRY, lookup
from hafab.engine.states.file import absent_script, write_script
from tests.unit.localhost import LocalRemote
from tests.unit.test_runner import compile_tree, counter_function, run  # noqa: F401  (fixture)


class Ctx:
    def source_path(self, url, where):
        raise AssertionError("not used")


def state(function, name, **args):
    module, fun = function.split(".")
    st = State(id="the-id", name=name, module=module, fun=fun, args=args, sls="t", file="states/t.sls")
    lookup(function).prepare(st, Ctx())
    return st


# --- modes as Salt reads them ----------------------------------------------------------------------

# (what the SLS says after `mode:`, the mode hafab gives the file); Salt's loader reads an unquoted
# leading-zero integer as the digits written, and salt.utils.files.normalize_mode drops a 0o prefix.
MODES = [("0640", 0o640), ("0644", 0o644), ("640", 0o640), ("'0640'", 0o640), ("0o640", 0o640),
         ("'0o640'", 0o640), ("0755", 0o755), ("755", 0o755), ("'755'", 0o755), ("0400", 0o400),
         ("00640", 0o640), ("0600", 0o600), ("01777", 0o1777), ("1777", 0o1777), ("'0'", 0), ("0", 0)]


@pytest.mark.parametrize("written, mode", MODES)
def test_sls_mode_means_what_salt_reads(tmp_path, written, mode):
    target = tmp_path / "f"
    states = compile_tree(tmp_path, f"""
        conf:
          file.managed:
            - name: {target}
            - contents: secret
            - mode: {written}
    """)
    assert states[0].prepared["mode"] == f"{mode:o}"
    result = LocalRemote().run(write_script(states[0]), stdin=b"secret\n")
    assert result.exit_status == 0, result.stderr
    assert stat.S_IMODE(os.stat(target).st_mode) == mode


@pytest.mark.parametrize("written", ["0986", "986", "6.4", "true", "[a]", "12345", "'rw-r--r--'", "-0640", "'0x1a4'",
                                     "'64O'", "{a: 1}"])
def test_a_mode_that_is_not_octal_digits_is_bad_input(tmp_path, written):
    states_dir = f"""
        conf:
          file.managed:
            - name: {tmp_path}/f
            - contents: x
            - mode: {written}
    """
    with pytest.raises(InputError, match=r"states/app.sls: conf: file.managed: mode: .* is not an octal mode"):
        compile_tree(tmp_path, states_dir)


@pytest.mark.parametrize("function, arg", [("file.directory", "mode"), ("file.directory", "dir_mode"),
                                           ("file.managed", "dir_mode")])
def test_dir_modes_are_read_the_same_way(tmp_path, function, arg):
    extra = "\n            - contents: x" if function == "file.managed" else ""
    states = compile_tree(tmp_path, f"""
        d:
          {function}:
            - name: {tmp_path}/d{extra}
            - {arg}: 0750
    """)
    assert states[0].prepared["mode" if function == "file.directory" else "dir_mode"] == "750"


@pytest.mark.parametrize("text, value", [("0640", 640), ("0", 0), ("00", 0), ("0_640", 640), ("010", 10),
                                         ("0x1F", 31), ("0b11", 3), ("-0640", -416), ("09", "09"),
                                         ("2024-01-01", "2024-01-01"), ("'0640'", "0640"), ("0o640", "0o640")])
def test_sls_loader_reads_leading_zero_integers_and_dates_as_salt(text, value):
    assert yamlio.load(f"v: {text}\n", "states/x.sls") == {"v": value}


def test_other_input_files_are_still_plain_yaml_1_1(tmp_path):
    path = tmp_path / "hosts.yaml"
    path.write_text("v: 0640\nd: 2024-01-01\n")
    data = yamlio.load_file(str(path))
    assert data["v"] == 0o640 and str(data["d"]) == "2024-01-01" and not isinstance(data["d"], str)


def test_sysctl_value_with_leading_zero_is_the_digits_written(tmp_path):
    states = compile_tree(tmp_path, """
        sys:
          sysctl.present:
            - name: vm.swappiness
            - value: 010
    """)
    assert states[0].prepared["value"] == "10"


# --- file.absent guard -----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "//", "///", "/./", "/.", "/etc/..", "/..", "/etc/../", "/tmp/a/../../",
                                  "/a/b/c/../../../../..", "//./etc/..//",
                                  "/proc/self/cwd/" + "../" * 40])
def test_file_absent_of_a_path_that_is_root_as_text_is_bad_input(path):
    with pytest.raises(InputError, match=r"states/t.sls: the-id: file.absent: name: refusing to remove /"):
        state("file.absent", path)


@pytest.fixture
def rm_log(tmp_path):
    """A PATH whose `rm` only records its arguments: the guard is tested without ever running a real
    rm on a path that may be /."""
    shims = tmp_path / "shims"
    shims.mkdir()
    log = tmp_path / "rm.log"
    (shims / "rm").write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> {log}\n")
    (shims / "rm").chmod(0o755)
    return {"PATH": f"{shims}:{os.environ['PATH']}", "log": log}


def run_guarded(script, rm_log):
    return subprocess.run(["sh", "-c", script], env={"PATH": rm_log["PATH"]}, capture_output=True, text=True,
                          timeout=30)


@pytest.mark.parametrize("path", ["/proc/self/root/", "/proc/self/root", "/proc/self/root/.", "/proc/self/root/etc/..",
                                  "/proc/self/root/proc/self/root/", "TMP/rootlink", "TMP/rootlink/", "TMP/rootlink/.",
                                  "TMP/dir/rootlink2/"])
def test_file_absent_of_a_path_the_host_resolves_to_root_is_refused_on_the_host(tmp_path, rm_log, path):
    (tmp_path / "rootlink").symlink_to("/")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "rootlink2").symlink_to("../rootlink")
    path = path.replace("TMP", str(tmp_path))
    st = state("file.absent", path)
    result = run_guarded(absent_script(st.prepared["path"]), rm_log)
    assert result.returncode == 3 and result.stderr == f"refusing to remove {path}: it resolves to /\n"
    assert not rm_log["log"].exists()


@pytest.mark.parametrize("rel", ["old", "old/", "dir/../old", "link-to-old", "missing", "a b; rm -rf x"])
def test_file_absent_of_an_ordinary_path_removes_it(tmp_path, rm_log, rel):
    (tmp_path / "old").mkdir()
    (tmp_path / "dir").mkdir()
    (tmp_path / "link-to-old").symlink_to(tmp_path / "old")
    path = f"{tmp_path}/{rel}"
    result = run_guarded(absent_script(state("file.absent", path).prepared["path"]), rm_log)
    assert result.returncode == 0, result.stderr
    assert rm_log["log"].read_text() == f"-rf -- {path}\n"


def test_file_absent_reports_the_refusal_as_a_failed_state(tmp_path):
    states = compile_tree(tmp_path, """
        gone:
          file.absent:
            - name: /proc/self/root/
    """)
    remote = _NoRm()
    outcome = lookup("file.absent").apply(states[0], None, remote)
    assert outcome.result is False
    assert outcome.comment == "Refusing to remove /proc/self/root/: on the host it resolves to /"


class _NoRm(LocalRemote):
    """LocalRemote that runs the script with `rm` replaced by `false` (the guard must stop before it)."""

    def run(self, script, stdin=b"", timeout=60):
        return super().run("rm() { exit 99; }\n" + script, stdin=stdin, timeout=timeout)


# --- every argument's type, at compile time --------------------------------------------------------

BASE = {"file.managed": {"contents": "x"}, "file.append": {"text": "x"}, "sysctl.present": {"value": 1}}
NAMES = {"file.managed": "/etc/x", "file.append": "/etc/x", "file.directory": "/etc/d", "file.absent": "/etc/x",
         "pkg.installed": "curl", "sysctl.present": "vm.swappiness", "cmd.run": "true"}

# (function, argument, a value of the wrong type or form)
BAD_ARGS = [
    ("cmd.run", "cwd", ["a"]), ("cmd.run", "cwd", "relative"), ("cmd.run", "cwd", 5), ("cmd.run", "cwd", {"a": 1}),
    ("cmd.run", "creates", {"a": 1}), ("cmd.run", "creates", "relative"), ("cmd.run", "creates", [5]),
    ("cmd.run", "creates", []), ("cmd.run", "env", "A=1"), ("cmd.run", "env", ["A=1"]), ("cmd.run", "env", {"A": [1]}),
    ("cmd.run", "env", {"A": None}), ("cmd.run", "env", 3),
    ("file.managed", "source", {"a": 1}), ("file.managed", "source", ["salt://a", "salt://b"]),
    ("file.managed", "contents", {"a": 1}), ("file.managed", "contents", [["a"]]), ("file.managed", "contents", True),
    ("file.managed", "template", "mako"), ("file.managed", "template", ["jinja"]),
    ("file.managed", "context", ["a"]), ("file.managed", "defaults", "x"),
    ("file.managed", "user", ["root"]), ("file.managed", "group", {"a": 1}), ("file.managed", "user", True),
    ("file.managed", "mode", ["0644"]), ("file.managed", "mode", True), ("file.managed", "dir_mode", "999"),
    ("file.managed", "makedirs", "yes"), ("file.managed", "show_changes", "no"), ("file.managed", "replace", 1),
    ("file.managed", "check_cmd", ["a"]), ("file.managed", "tmp_ext", ["a"]), ("file.managed", "tmp_ext", "a/b"),
    ("file.append", "text", {"a": 1}), ("file.append", "text", [["a"]]), ("file.append", "text", []),
    ("file.append", "text", [None]), ("file.append", "makedirs", "yes"),
    ("file.directory", "user", ["a"]), ("file.directory", "group", "a:b"), ("file.directory", "mode", ["0755"]),
    ("file.directory", "dir_mode", {"a": 1}), ("file.directory", "makedirs", "x"),
    ("pkg.installed", "pkgs", "apache2"), ("pkg.installed", "pkgs", [["a"]]), ("pkg.installed", "pkgs", []),
    ("pkg.installed", "refresh", "yes"),
    ("service.running", "enable", "yes"), ("service.running", "reload", "no"), ("service.running", "enable", ["x"]),
    ("service.dead", "enable", "x"),
    ("sysctl.present", "value", ["a"]), ("sysctl.present", "value", {"a": 1}), ("sysctl.present", "config", ["a"]),
    ("sysctl.present", "config", "relative"), ("sysctl.present", "config", "/etc/sysctl.d/"),
]


@pytest.mark.parametrize("function, arg, value", BAD_ARGS)
def test_an_argument_of_the_wrong_type_is_bad_input_naming_file_state_and_argument(function, arg, value):
    args = {**BASE.get(function, {}), arg: value}
    with pytest.raises(InputError) as exc:
        state(function, NAMES.get(function, "haproxy"), **args)
    assert str(exc.value).startswith(f"states/t.sls: the-id: {function}: {arg}: ")


def test_the_table_covers_every_argument_of_every_state_function():
    covered = {(function, arg) for function, arg, _ in BAD_ARGS}
    every = {(function, arg) for function, fn in REGISTRY.items() if not function.startswith("test.")
             for arg in fn.args}
    assert every - covered == set()


def test_cwd_list_is_bad_input_at_compile_time_through_the_compiler(tmp_path):
    with pytest.raises(InputError) as exc:
        compile_tree(tmp_path, """
            build:
              cmd.run:
                - name: make
                - cwd: [a]
        """)
    assert str(exc.value) == "states/app.sls: build: cmd.run: cwd: ['a'] is not an absolute path"


def test_an_explicit_cwd_that_does_not_exist_fails_the_state_and_runs_nothing(tmp_path):
    states = compile_tree(tmp_path, """
        build:
          cmd.run:
            - name: touch TMP/ran
            - cwd: TMP/missing
        default-cwd:
          cmd.run:
            - name: pwd > TMP/pwd
    """)
    result, _ = run(states)
    assert result["build"]["result"] is False and not (tmp_path / "ran").exists()
    assert result["build"]["comment"] == f"Specified cwd '{tmp_path}/missing' either not absolute or does not exist"
    assert result["default-cwd"]["result"] is True


# --- onchanges on a failed state (Salt 3008) -------------------------------------------------------

ONCHANGES_ON_FAILED = """
    broken:
      cmd.run:
        - name: exit 4
    changed:
      cmd.run:
        - name: 'true'
    on-failed:
      cmd.run:
        - name: touch TMP/on-failed
        - onchanges:
          - cmd: broken
    on-failed-or-changed:
      cmd.run:
        - name: touch TMP/on-either
        - onchanges:
          - cmd: broken
          - cmd: changed
    requires-failed:
      cmd.run:
        - name: touch TMP/requires
        - require:
          - cmd: broken
    watches-failed:
      test.counter:
        - marker: TMP/watches
        - watch:
          - cmd: broken
    both-onchanges-and-require:
      cmd.run:
        - name: touch TMP/both
        - onchanges:
          - cmd: changed
        - require:
          - cmd: broken
"""


def test_onchanges_on_a_failed_state_is_not_run_with_result_true(tmp_path):
    result, _ = run(compile_tree(tmp_path, ONCHANGES_ON_FAILED))
    assert result["broken"]["result"] is False
    assert result["on-failed"] == {**result["on-failed"], "result": True, "changes": {},
                                   "comment": "State was not run because none of the onchanges reqs changed"}
    assert not (tmp_path / "on-failed").exists()
    assert result["on-failed-or-changed"]["result"] is True and (tmp_path / "on-either").exists()
    for dependent in ("requires-failed", "watches-failed", "both-onchanges-and-require"):
        assert result[dependent]["result"] is False, dependent
        assert "requisite failed" in result[dependent]["comment"] and "broken" in result[dependent]["comment"]
    assert not any((tmp_path / f).exists() for f in ("requires", "watches", "both"))
