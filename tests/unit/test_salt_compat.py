"""Cases where hafab and Salt 3008.4 were found to differ on the same SLS (issue 9), each pinned to
Salt's behaviour (salt/states/*.py, salt/modules/*.py, salt/state.py of 3008.4)."""

import os
import re
import stat

import pytest

from hafab.engine.errors import InputError
from hafab.engine.facts import Facts, FileFact
from hafab.engine.model import State
from hafab.engine.states import lookup
from hafab.engine.states.file import salt_whitespace_regex, write_script
from hafab.engine.states.pkg import install_script
from tests.unit.localhost import LocalRemote
from tests.unit.test_runner import compile_tree, counter_function, run  # noqa: F401  (fixture)


class Ctx:
    def source_path(self, url, where):
        raise AssertionError("not used")


def state(function, name, watch=(), **args):
    module, fun = function.split(".")
    st = State(id=name, name=name, module=module, fun=fun, args=args, sls="t", file="states/t.sls")
    st.watch = list(watch)
    lookup(function).prepare(st, Ctx())
    return st


def plan(st, **facts):
    return lookup(st.function).plan(st, Facts(**facts))


# --- sysctl.present: Salt's default config file ----------------------------------------------------

def test_sysctl_default_config_is_salts_on_systemd_and_sysctl_conf_otherwise():
    st = state("sysctl.present", "vm.swappiness", value=10)
    salt_conf, sysv_conf = "/etc/sysctl.d/99-salt.conf", "/etc/sysctl.conf"
    files = {salt_conf: FileFact(False), sysv_conf: FileFact(True, "regular file", content="vm.swappiness = 10\n")}
    p = plan(st, sysctls={"vm.swappiness": "10"}, files=files, systemd=True)
    assert p.action == {"live": False, "persist": True} and st.prepared["target"] == salt_conf
    assert plan(st, sysctls={"vm.swappiness": "10"}, files=files, systemd=False).changes == {}


def test_sysctl_new_config_file_starts_with_salts_header():
    st = state("sysctl.present", "vm.swappiness", value=10, config="/etc/sysctl.d/50-x.conf")
    p = plan(st, sysctls={"vm.swappiness": "10"}, files={"/etc/sysctl.d/50-x.conf": FileFact(False)})

    class Host:
        script = ""

        def run(self, script, **_):
            Host.script = script
            from hafab.engine.transport import ExecResult
            return ExecResult(0, "", "")

    lookup("sysctl.present").apply(st, p, Host())
    assert "Kernel sysctl configuration" in Host.script and "50-x.conf" in Host.script


# --- file.append: Salt looks for each text item as a whole, whitespace-insensitive -----------------

@pytest.mark.parametrize("content, text, appended", [
    ("ServerName  localhost\n", "ServerName localhost", []),          # any whitespace between words
    ("  ServerName localhost  \n", "ServerName localhost", []),        # and around them
    ("#ServerName localhost\n", "ServerName localhost", ["ServerName localhost"]),  # whole lines only
    ("ServerName localhost.example\n", "ServerName localhost", ["ServerName localhost"]),
    ("b\nx\na\n", "a\nb", ["a", "b"]),                                 # a multi-line item: consecutive
    ("a\nb\n", "a\nb", []),
    ("a\n", ["a", "b"], ["b"]),                                        # list items: each on its own
])
def test_file_append_matches_like_salt(content, text, appended):
    st = state("file.append", "/etc/x", text=text)
    p = plan(st, files={"/etc/x": FileFact(True, "regular file", content=content)})
    assert (p.action or []) == appended


def test_salt_whitespace_regex_is_salts():
    # salt.utils.stringutils.build_whitespace_split_regex("a  b") in 3008.4
    assert salt_whitespace_regex("a  b") == r"(?m)^(?:[\s]+)?a(?:[\s]+)?b(?:[\s]+)?$"
    assert re.search(salt_whitespace_regex('echo "x  y"'), 'echo "x  y"\n')


def test_file_append_unbalanced_quote_is_bad_input():
    with pytest.raises(InputError, match="text"):
        state("file.append", "/etc/x", text='it\'s "x')


# --- file.managed: what a new file reports, and the directories makedirs creates ------------------

def test_new_file_reports_owner_only_when_not_root_and_mode_unless_0600():
    parent = {"/etc": FileFact(True, "directory")}
    st = state("file.managed", "/etc/a", contents="x", user="root", group="root", mode="0644")
    assert plan(st, files={"/etc/a": FileFact(False), **parent}).changes == {"diff": "New file", "mode": "0644"}
    st = state("file.managed", "/etc/a", contents="x", user="root", group="haproxy", mode="0600")
    assert plan(st, files={"/etc/a": FileFact(False), **parent}).changes == {"diff": "New file", "group": "haproxy"}


def _write(tmp_path, rel, **args):
    path = str(tmp_path / rel)
    st = state("file.managed", path, contents="x", **args)
    remote = LocalRemote()
    result = remote.run(write_script(st), stdin=b"x\n")
    assert result.exit_status == 0, result.stderr
    return path


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_makedirs_gives_new_directories_the_file_mode_plus_execute_bits(tmp_path):
    _write(tmp_path, "a/b/f.conf", mode="0644", makedirs=True)
    assert _mode(tmp_path / "a") == 0o755 and _mode(tmp_path / "a" / "b") == 0o755
    _write(tmp_path, "c/f.conf", mode="0640", makedirs=True)
    assert _mode(tmp_path / "c") == 0o750
    _write(tmp_path, "d/f.conf", makedirs=True)  # no mode: umask's 0755
    assert _mode(tmp_path / "d") == 0o755


def test_makedirs_dir_mode_applies_to_created_directories_only(tmp_path):
    (tmp_path / "old").mkdir(mode=0o711)
    os.chmod(tmp_path / "old", 0o711)
    _write(tmp_path, "old/f", mode="0644", dir_mode="0700", makedirs=True)
    assert _mode(tmp_path / "old") == 0o711
    _write(tmp_path, "old/new/f", mode="0644", dir_mode="0700", makedirs=True)
    assert _mode(tmp_path / "old" / "new") == 0o700 and _mode(tmp_path / "old") == 0o711


def test_file_directory_prefers_dir_mode_over_mode():
    st = state("file.directory", "/srv/d", mode="0700", dir_mode="0755")
    assert st.prepared["mode"] == "755"


# --- cmd.run, service.enabled, pkg.installed -----------------------------------------------------

def test_cmd_run_creates_comment_is_salts():
    st = state("cmd.run", "make", creates="/srv/thing")
    assert plan(st, exists={"/srv/thing": True}).comment == "/srv/thing exists"
    st = state("cmd.run", "make", creates=["/a", "/b"])
    assert plan(st, exists={"/a": True, "/b": True}).comment == "All files in creates exist"


def test_watching_service_enabled_is_refused():
    """Salt's service.mod_watch knows running and dead only: a triggered watch fails service.enabled."""
    with pytest.raises(InputError, match="watch"):
        state("service.enabled", "nftables", watch=["file_|-x_|-x_|-managed"])
    state("service.enabled", "nftables")


def test_pkg_installed_follows_apts_recommends_setting_as_salt():
    assert "--no-install-recommends" not in install_script(["apache2"], refresh=False)


# --- the runner (hafab/runner.py, the lead's): unless with several commands ------------------------

def test_unless_list_skips_only_when_every_command_succeeds(tmp_path):
    states = compile_tree(tmp_path, """
        runs:
          cmd.run:
            - name: touch TMP/ran
            - unless: ['true', 'false']
    """)
    result, _ = run(states)
    assert result["runs"]["changes"], result["runs"]["comment"]


def test_check_cmd_runs_without_a_shell_as_salt(tmp_path):
    """Salt's file.managed runs check_cmd through cmd.run_all without a shell: `||` is a plain word."""
    st = state("file.managed", str(tmp_path / "f"), contents="x", check_cmd="false || true")
    result = LocalRemote().run(write_script(st), stdin=b"x\n")
    assert result.exit_status == 3 and not (tmp_path / "f").exists()
    st = state("file.managed", str(tmp_path / "g"), contents="x", check_cmd="test -s")
    assert LocalRemote().run(write_script(st), stdin=b"x\n").exit_status == 0


def test_check_cmd_unbalanced_quote_is_bad_input():
    with pytest.raises(InputError, match="check_cmd"):
        state("file.managed", "/etc/x", contents="x", check_cmd="sh -c 'x")
