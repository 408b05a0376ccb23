"""sysctl.present: the value applied now (sysctl -w) and persisted in a sysctl.d file."""

import os
import re
import shlex

from hafab.engine.states.base import CONTROL_RE, Outcome, Plan, StateFunction, bad_arg, command_failed, register, require_path

# Salt's sysctl.default_config(): systemd (>= 207) reads only sysctl.d, other hosts /etc/sysctl.conf.
DEFAULT_CONFIG = "/etc/sysctl.d/99-salt.conf"
SYSV_CONFIG = "/etc/sysctl.conf"
SALT_HEADER = "#\n# Kernel sysctl configuration\n#\n"  # what Salt writes first into a new config file
KEY_RE = re.compile(r"[a-z0-9_]+(\.[A-Za-z0-9_-]+)+")  # whole string (fullmatch)


def _normal(value):
    return " ".join(str(value).split())


def _persisted(content, key):
    """The value `key` has in a sysctl.d file's text, or None."""
    value = None
    for line in (content or "").splitlines():
        name, sep, rest = line.partition("=")
        if sep and name.strip() == key:
            value = _normal(rest)
    return value


@register
class Present(StateFunction):
    function = "sysctl.present"
    args = frozenset({"value", "config"})

    def prepare(self, state, ctx):
        if not KEY_RE.fullmatch(state.name):
            raise bad_arg(state, "name", f"{state.name!r} is not a sysctl key")
        if "value" not in state.args or state.args["value"] is None:
            raise bad_arg(state, "value", "missing (the value to set)")
        value = state.args["value"]
        if not isinstance(value, (str, int, float)) or CONTROL_RE.search(_normal(value)):
            raise bad_arg(state, "value", f"{value!r} must be a number or a line of words")
        config = require_path(state, "config")  # None: Salt's default, chosen per host in plan()
        if config is not None and config.endswith("/"):
            raise bad_arg(state, "config", f"{config!r} is a directory, not a file")
        if isinstance(value, bool):
            value = int(value)
        state.prepared.update(key=state.name, value=_normal(value), config=config)

    def query(self, state, q):
        q.sysctls.add(state.prepared["key"])
        for config in [state.prepared["config"]] if state.prepared["config"] else [DEFAULT_CONFIG, SYSV_CONFIG]:
            q.want_file(config)

    def plan(self, state, facts):
        key, value, config = (state.prepared[k] for k in ("key", "value", "config"))
        config = config or (DEFAULT_CONFIG if facts.systemd else SYSV_CONFIG)
        state.prepared["target"] = config  # the file apply() writes (the state belongs to this host alone)
        live = facts.sysctls.get(key)
        persisted = _persisted(facts.files[config].content, key)
        if live == value and persisted == value:
            return Plan(comment=f"Sysctl value {key} = {value} is already set")
        changes = {key: value}
        comment = (f"Sysctl option {key} set to be changed to {value}" if live != value
                   else f"Sysctl option {key} would be persisted in {config}")
        return Plan(changes=changes, comment=comment, action={"live": live != value, "persist": persisted != value})

    def touched_paths(self, state, plan):
        return [state.prepared["target"]] if plan.action["persist"] else []

    def apply(self, state, plan, host):
        key, value, config = state.prepared["key"], state.prepared["value"], state.prepared["target"]
        q = shlex.quote
        lines = ["set -e"]
        if plan.action["live"]:
            lines.append(f"sysctl -q -w -- {q(key + '=' + value)}")
        if plan.action["persist"]:
            lines += persist_lines(key, value, config)
        result = host.run("\n".join(lines) + "\n")
        if result.exit_status != 0:
            return Outcome(False, command_failed(result, f"sysctl {key}"))
        return Outcome(True, f"Updated sysctl value {key} = {value}", plan.changes)


def persist_lines(key, value, config):
    """Shell lines rewriting `config` without any old line for `key`, then with ours: atomic rename."""
    q = shlex.quote
    directory = q(os.path.dirname(config) or "/")
    pattern = q("^[[:space:]]*" + re.escape(key) + "[[:space:]]*=")
    return [f"mkdir -p -- {directory}",
            f"tmp=$(mktemp -- {directory}/.hafab-XXXXXXXX)",
            "trap 'rm -f -- \"$tmp\"' EXIT",
            f"if [ -f {q(config)} ]; then grep -v -E -e {pattern} -- {q(config)} > \"$tmp\" || true; "
            f"else printf %s {q(SALT_HEADER)} > \"$tmp\"; fi",
            f"printf '%s\\n' {q(key + ' = ' + value)} >> \"$tmp\"",
            "chmod 644 -- \"$tmp\"",
            f"mv -f -- \"$tmp\" {q(config)}"]
