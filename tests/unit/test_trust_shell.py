"""Issue 13, class 5 (shell and options): no value of an SLS reaches a host's shell unquoted, and no name
reads as an option of the tool it is given to. Each generated script runs for real with sh against a tmp
dir: a marker file the hostile value would create is never created."""

import re
import shlex

import pytest

from hafab.engine import facts as factlib
from hafab.engine.errors import InputError
from hafab.engine.facts import Facts, FileFact
from hafab.engine.model import State
from hafab.engine.transport import ExecResult
from hafab.engine.states import lookup
from hafab.engine.states.base import Plan
from hafab.engine.states.cmd import run_script
from hafab.engine.states.file import absent_script, append_script, write_script
from hafab.engine.states.pkg import install_script
from hafab.engine.states.sysctl import persist_lines
from tests.unit.localhost import LocalRemote


class Ctx:
    def source_path(self, url, where):
        raise AssertionError("not used")


def state(function, name, **args):
    module, fun = function.split(".")
    st = State(id="the-id", name=name, module=module, fun=fun, args=args, sls="t", file="states/t.sls")
    lookup(function).prepare(st, Ctx())
    return st


def sh(script, stdin=b""):
    result = LocalRemote().run(script, stdin=stdin)
    assert result.exit_status == 0, result.stderr
    return result


# Values a hostile or careless author could write; MARKER is the file each would create if a shell
# ever read it as code.
HOSTILE = ["$(touch MARKER)", "`touch MARKER`", "x; touch MARKER", "x' ; touch MARKER; '", 'x" ; touch MARKER; "',
           "x && touch MARKER", "x | touch MARKER", "x\ntouch MARKER", "-rf x; touch MARKER"]


# In paths: the same but a newline (a control character in a path is bad input, tested below).
HOSTILE_PATHS = [v for v in HOSTILE if "\n" not in v]


def hostile(tmp_path, value):
    return value.replace("MARKER", str(tmp_path / "MARKER"))


# --- cmd.run env -----------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["A=1; touch F; export A", "A=1", "1A", "A-B", "A B", "", "A\n", "$(touch F)",
                                 "A;B", "ü"])
def test_env_key_that_is_not_a_shell_name_is_bad_input_naming_state_and_key(key):
    with pytest.raises(InputError) as exc:
        state("cmd.run", "true", env={key: "x"})
    assert str(exc.value).startswith("states/t.sls: the-id: cmd.run: env: ") and repr(key) in str(exc.value)


@pytest.mark.parametrize("key", ["A", "_x", "PATH2", "lower_case"])
def test_env_key_that_is_a_shell_name_is_exported(tmp_path, key):
    st = state("cmd.run", f'printf %s "${key}" > {tmp_path}/out', env=[{key: "v"}])
    sh(run_script(st))
    assert (tmp_path / "out").read_text() == "v"


@pytest.mark.parametrize("value", HOSTILE)
def test_env_value_is_passed_literally(tmp_path, value):
    value = hostile(tmp_path, value)
    st = state("cmd.run", f'printf %s "$A" > {tmp_path}/out', env={"A": value})
    sh(run_script(st))
    assert (tmp_path / "out").read_text() == value and not (tmp_path / "MARKER").exists()


@pytest.mark.parametrize("value", HOSTILE_PATHS)
def test_cwd_and_creates_are_operands_not_code(tmp_path, value):
    cwd = tmp_path / hostile(tmp_path, value).replace("/", "_")
    cwd.mkdir()
    st = state("cmd.run", f"pwd > {tmp_path}/out", cwd=str(cwd), creates=str(cwd / "c"))
    sh(run_script(st))
    assert (tmp_path / "out").read_text() == f"{cwd}\n" and not (tmp_path / "MARKER").exists()
    script, token = factlib.script(_query(st))
    sh(script)
    assert not (tmp_path / "MARKER").exists()


def _query(st):
    q = factlib.FactQuery()
    lookup(st.function).query(st, q)
    return q


# --- file states: paths, owners, modes, tmp_ext, check_cmd ------------------------------------------

@pytest.mark.parametrize("value", HOSTILE_PATHS)
def test_file_managed_script_quotes_path_tmp_ext_and_check_cmd(tmp_path, value):
    target = tmp_path / hostile(tmp_path, value).replace("/", "_") / "f.conf"
    ext = hostile(tmp_path, value).replace("/", "_").replace("\n", "_")
    st = state("file.managed", str(target), contents="x", makedirs=True, user="root", group="root", mode="0640",
               tmp_ext=ext, check_cmd=f"printf %s {shlex.quote(hostile(tmp_path, value))}")
    sh(write_script(st), stdin=b"x\n")
    assert target.read_text() == "x\n" and not (tmp_path / "MARKER").exists()


@pytest.mark.parametrize("value", HOSTILE_PATHS)
def test_file_append_with_makedirs_quotes_every_operand(tmp_path, value):
    target = tmp_path / hostile(tmp_path, value).replace("/", "_") / "sub" / "lines"
    st = state("file.append", str(target), text="one", makedirs=True)
    sh(append_script(st), stdin=b"one\n")
    assert target.read_text() == "one\n" and not (tmp_path / "MARKER").exists()


@pytest.mark.parametrize("value", HOSTILE_PATHS)
def test_file_directory_and_absent_quote_the_path(tmp_path, value):
    target = tmp_path / hostile(tmp_path, value).replace("/", "_") / "d"
    st = state("file.directory", str(target), makedirs=True, user="root", mode="0750")
    result = lookup("file.directory").apply(st, Plan(action="create"), LocalRemote())
    assert result.result is True, result.comment
    assert target.is_dir() and not (tmp_path / "MARKER").exists()
    sh(absent_script(str(target)))
    assert not target.exists() and target.parent.is_dir() and not (tmp_path / "MARKER").exists()


@pytest.mark.parametrize("value", HOSTILE_PATHS)
def test_sysctl_config_file_path_is_quoted(tmp_path, value):
    config = tmp_path / hostile(tmp_path, value).replace("/", "_") / "sysctl.d" / "99-x.conf"
    st = state("sysctl.present", "net.ipv4.ip_forward", value=1, config=str(config))
    sh("set -e\n" + "\n".join(persist_lines(st.prepared["key"], st.prepared["value"], str(config))) + "\n")
    assert config.read_text().endswith("net.ipv4.ip_forward = 1\n") and not (tmp_path / "MARKER").exists()


@pytest.mark.parametrize("function, arg", [("file.managed", "user"), ("file.managed", "group"),
                                           ("file.directory", "user"), ("file.directory", "group")])
@pytest.mark.parametrize("value", ["-R", "--reference=/etc", "root:root", "a b", "$(touch F)", "x;y", "", "a\n"])
def test_owner_that_chown_would_misread_is_bad_input(function, arg, value):
    extra = {"contents": "x"} if function == "file.managed" else {}
    with pytest.raises(InputError, match=f"the-id: {function}: {arg}: "):
        state(function, "/etc/x", **extra, **{arg: value})


@pytest.mark.parametrize("value", ["root", "www-data", "_apt", 0, 1000, "1000", "systemd-journal"])
def test_owner_names_and_ids_are_accepted(value):
    st = state("file.managed", "/etc/x", contents="x", user=value, group=value)
    assert f"chown -- {shlex.quote(f'{value}:{value}')} \"$tmp\"\n" in write_script(st)


# --- names that would read as options --------------------------------------------------------------

@pytest.mark.parametrize("name", ["-y", "--force-yes", "-oAPT::Get::AllowUnauthenticated=1", "-", "a;b", "Apache2",
                                  "x", "pkg=1.0", "pkg/bookworm", "foo:", "foo:-amd64", "foo\n", "foo bar", ".foo"])
def test_package_name_not_debian_is_bad_input(name):
    with pytest.raises(InputError, match="the-id: pkg.installed: pkgs: .* is not a package name"):
        state("pkg.installed", "x", pkgs=["curl", name])
    with pytest.raises(InputError, match="the-id: pkg.installed: name: "):
        state("pkg.installed", name)


@pytest.mark.parametrize("name", ["apache2", "libc6:amd64", "g++", "python3.11", "0ad", "lib32z1:i386", "xz-utils"])
def test_debian_package_names_pass_after_double_dash(name):
    st = state("pkg.installed", name)
    script = install_script(st.prepared["pkgs"], refresh=False)
    assert f"install -- {name}" in script and f"\\n' -- {name}" in script


def test_package_facts_query_works_with_double_dash_on_the_real_dpkg_query():
    q = factlib.FactQuery(packages={"dash", "coreutils"})
    script, token = factlib.script(q)
    facts = factlib.parse(sh(script).stdout, token, q)
    assert facts.packages["dash"] and facts.packages["coreutils"]


@pytest.mark.parametrize("function", ["service.running", "service.enabled", "service.dead"])
@pytest.mark.parametrize("name", ["-x", "--now", "-.mount", ".hidden", "a b", "a;b", "x\n", "$(touch F)", "a/b", ""])
def test_service_name_that_is_not_a_unit_name_is_bad_input(function, name):
    with pytest.raises(InputError, match=f"the-id: {function}: name: "):
        state(function, name)


@pytest.mark.parametrize("name", ["haproxy", "getty@tty1", "systemd-journald.service", "dev-sda1.device",
                                  "foo\\x2dbar", "a:b"])
def test_unit_names_are_accepted_and_passed_after_double_dash(name):
    st = state("service.running", name)
    unit = {"load": "loaded", "active": "inactive", "enabled": "enabled"}
    host = Recorder()
    lookup("service.running").apply(st, lookup("service.running").plan(st, Facts(units={name: unit})), host)
    assert host.scripts == [f"set -e\nsystemctl start -- {shlex.quote(name)}\n"]


class Recorder:
    """A host that records the scripts it is given and runs none (for commands that would change this
    machine: systemctl, sysctl -w)."""

    def __init__(self):
        self.scripts = []

    def run(self, script, stdin=b"", timeout=60):
        self.scripts.append(script)
        return ExecResult(0, "", "")


@pytest.mark.parametrize("key", ["net.ipv4.ip_forward\n", "-a", "kernel.x;y", "kernel..x", "kernel", "a.b c",
                                 "$(touch F).x"])
def test_sysctl_key_must_be_a_whole_key(key):
    with pytest.raises(InputError, match="the-id: sysctl.present: name: "):
        state("sysctl.present", key, value=1)


@pytest.mark.parametrize("value", ["1\x1b[31m", "\x00", [1], {"a": 1}])
def test_sysctl_value_with_control_characters_or_structure_is_bad_input(value):
    with pytest.raises(InputError, match="the-id: sysctl.present: value: "):
        state("sysctl.present", "net.ipv4.ip_forward", value=value)


def test_sysctl_live_write_passes_the_setting_after_double_dash():
    st = state("sysctl.present", "net.core.somaxconn", value="4096\t8192")
    p = lookup("sysctl.present").plan(st, Facts(sysctls={"net.core.somaxconn": "128"},
                                                files={"/etc/sysctl.d/99-salt.conf": FileFact(False)}))
    host = Recorder()
    lookup("sysctl.present").apply(st, p, host)
    assert "sysctl -q -w -- 'net.core.somaxconn=4096 8192'\n" in host.scripts[0]


@pytest.mark.parametrize("path", ["etc/x", "~/x", "/etc/x\n", "/etc/\x1b[2Jx", "/etc/x\r"])
@pytest.mark.parametrize("function", ["file.managed", "file.append", "file.directory", "file.absent"])
def test_paths_must_be_absolute_and_free_of_control_characters(function, path):
    extra = {"file.managed": {"contents": "x"}, "file.append": {"text": "x"}}.get(function, {})
    with pytest.raises(InputError, match=f"the-id: {function}: name: "):
        state(function, path, **extra)


# --- every option-taking tool of every generated script gets its operands after `--` -------------

TOOLS = ("mktemp", "mkdir", "chmod", "chown", "mv", "rm", "dirname", "tail", "head", "realpath", "stat", "cd",
         "sysctl", "apt-get", "dpkg-query", "systemctl", "sha256sum", "grep")
# an option's own argument (-f='...', --reference=X, -e PATTERN) is not an operand
OPTION_VALUE_RE = re.compile(r"""--?[\w-]+=('[^']*'|"[^"]*"|\S+)|-e ('[^']*'|"[^"]*")""")


def unguarded(script):
    """Simple commands of `script` running one of TOOLS with a quoted operand before any `--`."""
    bad = []
    for segment in re.split(r"\$\(|\)|;|&&|\|\||\||\n|\bthen\b|\belse\b|\{|\}", OPTION_VALUE_RE.sub("OPT", script)):
        words = segment.split()
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
            words.pop(0)  # VAR=value before the command
        if not words or words[0] not in TOOLS:
            continue
        rest = " ".join(words[1:])
        first_operand = min((rest.index(c) for c in "'\"" if c in rest), default=None)
        if first_operand is not None and " -- " not in " " + rest[:first_operand]:
            bad.append(segment.strip())
    return bad


def all_scripts(tmp_path):
    """One of every script hafab's states and facts generate, with every optional part switched on."""
    managed = state("file.managed", "/etc/x", contents="x", makedirs=True, user="root", group="adm", mode="0640",
                    tmp_ext=".cfg", check_cmd="haproxy -c -f")
    plain = state("file.managed", "/etc/y", contents="x")
    directory = Recorder()
    st = state("file.directory", "/srv/a/b", makedirs=True, user="root", mode="0750")
    lookup("file.directory").apply(st, Plan(action="create"), directory)
    sysctl, service = Recorder(), Recorder()
    st = state("sysctl.present", "net.ipv4.ip_forward", value=1, config="/etc/sysctl.d/x.conf")
    no_config = Facts(files={"/etc/sysctl.d/x.conf": FileFact(False)})
    lookup("sysctl.present").apply(st, lookup("sysctl.present").plan(st, no_config), sysctl)
    st = state("service.running", "haproxy", enable=True)
    down = {"haproxy": {"load": "loaded", "active": "inactive", "enabled": "disabled"}}
    lookup("service.running").apply(st, lookup("service.running").plan(st, Facts(units=down)), service)
    cmd = state("cmd.run", "make", cwd="/srv", env={"A": "1"}, creates="/srv/made")
    q = factlib.FactQuery(packages={"curl"}, units={"haproxy"}, stats={"/etc"}, sysctls={"net.ipv4.ip_forward"},
                          exists={"/srv/made"})
    q.want_file("/etc/x", "0" * 64)
    return {"file.managed": write_script(managed), "file.managed plain": write_script(plain),
            "file.append": append_script(state("file.append", "/etc/z", text="x", makedirs=True)),
            "file.absent": absent_script("/srv/old"), "file.directory": directory.scripts[0],
            "sysctl.present": sysctl.scripts[0], "service.running": service.scripts[0],
            "pkg.installed": install_script(["curl", "libc6:amd64"], refresh=True), "cmd.run": run_script(cmd),
            "facts": factlib.script(q)[0]}


def test_every_generated_script_passes_operands_after_double_dash(tmp_path):
    scripts = all_scripts(tmp_path)
    assert {name: unguarded(text) for name, text in scripts.items() if unguarded(text)} == {}


def test_the_checker_sees_an_operand_before_double_dash():
    assert unguarded("chown 'root' /x\nmkdir -p -- '/a'\nx=$(rm -f \"$tmp\")") == ["chown 'root' /x", 'rm -f "$tmp"']
