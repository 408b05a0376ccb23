"""cmd.run: run a shell command; pair it with unless, onlyif, creates or onchanges to stay idempotent."""

import shlex

from hafab.engine.states.base import (SHELL_NAME_RE, Outcome, Plan, StateFunction, bad_arg,
                               check_path, register, require_path)

DEFAULT_CWD = "/root"  # Salt's: the home of the user the command runs as (root)
NO_CWD = 126           # exit status of the script when an explicit cwd cannot be entered
NO_CWD_MARK = "hafab: cwd missing"


def _creates(state):
    creates = state.args.get("creates")
    if creates is None:
        return []
    items = [creates] if isinstance(creates, str) else creates
    if not isinstance(items, list) or not items:
        raise bad_arg(state, "creates", f"{creates!r} must be an absolute path or a list of them")
    return [check_path(state, "creates", c) for c in items]


def _env(state):
    """Salt's env: a mapping, or a list of one-entry mappings; names are shell variable names and values
    scalars (written as Salt does, str() of the value)."""
    env = state.args.get("env")
    if env is None:
        return {}
    items = env if isinstance(env, list) else [env]
    merged = {}
    for item in items:
        if not isinstance(item, dict):
            raise bad_arg(state, "env", f"{env!r} must be a mapping of variable names to values")
        merged.update(item)
    checked = {}
    for key, value in merged.items():
        if not isinstance(key, str) or not SHELL_NAME_RE.fullmatch(key):
            raise bad_arg(state, "env", f"{key!r} is not a shell variable name ([A-Za-z_][A-Za-z0-9_]*)")
        if value is None or isinstance(value, (dict, list)):
            raise bad_arg(state, "env", f"{key}: {value!r} must be a string")
        checked[key] = str(value)
    return checked


@register
class Run(StateFunction):
    function = "cmd.run"
    args = frozenset({"cwd", "creates", "env"})

    def prepare(self, state, ctx):
        if "\0" in state.name:
            raise bad_arg(state, "name", "contains a NUL character")
        state.prepared.update(env=_env(state), creates=_creates(state), cwd=require_path(state, "cwd"))

    def query(self, state, q):
        q.exists.update(state.prepared["creates"])

    def plan(self, state, facts):
        creates = state.prepared["creates"]
        if creates and all(facts.exists.get(path) for path in creates):
            if isinstance(state.args.get("creates"), str):  # Salt's wording (salt/state.py)
                return Plan(comment=f"{creates[0]} exists")
            return Plan(comment="All files in creates exist")
        return Plan(changes={"cmd": state.name}, comment=f'Command "{state.name}" would have been executed')

    def apply(self, state, plan, host):
        cwd = state.prepared["cwd"]
        result = host.run(run_script(state), timeout=1800)
        if cwd is not None and result.exit_status == NO_CWD and result.stderr.rstrip("\n").endswith(NO_CWD_MARK):
            # Salt: the command does not run (salt.modules.cmdmod._run's wording)
            return Outcome(False, f"Specified cwd '{cwd}' either not absolute or does not exist")
        changes = {"pid": None, "retcode": result.exit_status,
                   "stdout": result.stdout.rstrip("\n"), "stderr": result.stderr.rstrip("\n")}
        if result.exit_status != 0:
            return Outcome(False, f"Command \"{state.name}\" run (exit {result.exit_status})", changes)
        return Outcome(True, f'Command "{state.name}" run', changes)


def run_script(state):
    """The sh script of a cmd.run: enter cwd (an explicit one must exist, as in Salt; the default falls
    back to /), export env (names checked at compile time, values quoted), run the command with sh -c."""
    q = shlex.quote
    cwd = state.prepared["cwd"]
    if cwd is None:
        enter = f"cd -- {q(DEFAULT_CWD)} 2>/dev/null || cd /"
    else:
        enter = f"cd -- {q(cwd)} 2>/dev/null || {{ echo {q(NO_CWD_MARK)} >&2; exit {NO_CWD}; }}"
    exports = "".join(f"{k}={q(v)}; export {k}\n" for k, v in state.prepared["env"].items())
    return f"{enter}\n{exports}exec sh -c {q(state.name)}\n"
