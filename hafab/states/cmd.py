"""cmd.run: run a shell command; pair it with unless, onlyif, creates or onchanges to stay idempotent."""

import shlex

from hafab.states.base import Outcome, Plan, StateFunction, bad_arg, register


def _creates(state):
    creates = state.args.get("creates")
    if creates is None:
        return []
    return [creates] if isinstance(creates, str) else list(creates)


@register
class Run(StateFunction):
    function = "cmd.run"
    args = frozenset({"cwd", "creates", "env"})

    def prepare(self, state, ctx):
        env = state.args.get("env") or {}
        if isinstance(env, list):
            merged = {}
            for item in env:
                if not isinstance(item, dict):
                    raise bad_arg(state, "env", "must be a mapping of variable names to values")
                merged.update(item)
            env = merged
        if not isinstance(env, dict):
            raise bad_arg(state, "env", "must be a mapping of variable names to values")
        creates = _creates(state)
        if not all(isinstance(c, str) and c.startswith("/") for c in creates):
            raise bad_arg(state, "creates", "must be an absolute path or a list of them")
        cwd = state.args.get("cwd", "/root")
        state.prepared.update(env={str(k): str(v) for k, v in env.items()}, creates=creates, cwd=cwd)

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
        q = shlex.quote
        exports = "".join(f"export {k}={q(v)}\n" for k, v in state.prepared["env"].items())
        script = f"cd {q(state.prepared['cwd'])} 2>/dev/null || cd /\n{exports}exec sh -c {q(state.name)}\n"
        result = host.run(script, timeout=1800)
        changes = {"pid": None, "retcode": result.exit_status,
                   "stdout": result.stdout.rstrip("\n"), "stderr": result.stderr.rstrip("\n")}
        if result.exit_status != 0:
            return Outcome(False, f"Command \"{state.name}\" run (exit {result.exit_status})", changes)
        return Outcome(True, f'Command "{state.name}" run', changes)
