"""What every state function provides: arguments, compile-time prepare, facts query, plan and apply.

A state function never talks to the host in plan(): it reads the facts gathered for the whole host in
one round-trip. apply() runs the few commands that make the change, through host.run().
"""

import re
from dataclasses import dataclass, field

from hafab.engine.errors import InputError

REGISTRY = {}


def register(cls):
    """Class decorator: add one StateFunction to the registry under its `function` name."""
    REGISTRY[cls.function] = cls()
    return cls


@dataclass
class Plan:
    """What a state would change on its host: empty `changes` means it is already right."""

    changes: dict = field(default_factory=dict)
    comment: str = ""
    action: object = None


@dataclass
class Outcome:
    result: bool
    comment: str
    changes: dict = field(default_factory=dict)


class StateFunction:
    function = ""               # "file.managed"
    args = frozenset()          # accepted arguments besides model.GLOBAL_ARGS
    mod_watch = None            # callable(state, host, facts) -> Outcome, for functions that react to watch
    internal = False            # hafab's own (e.g. file.restored for rollback): not available to SLS files

    def prepare(self, state, ctx):
        """Compile time (no host contact): validate arguments, resolve sources, render templates.

        `ctx` is a hafab.render.RenderContext. Raise InputError naming the state on bad input.
        """

    def query(self, state, q):
        """Add to the FactQuery `q` what plan() needs to know about the host."""

    def plan(self, state, facts):
        raise NotImplementedError

    def apply(self, state, plan, host):
        raise NotImplementedError

    def touched_paths(self, state, plan):
        """The files apply() will replace, create or remove for `plan`: the run keeps them first, so
        that a rollback can put them back (hafab.engine.journal)."""
        return []

    def restore_info(self, state):
        """What a rollback of this state's files must know to put them back the way apply() writes
        them, e.g. the check_cmd that validates a config before it goes live."""
        return {}


def bad_arg(state, arg, message):
    return InputError(state.file, f"{state.id}: {state.function}: {arg}: {message}")


def require_bool(state, arg, default=False):
    value = state.args.get(arg, default)
    if not isinstance(value, bool):
        raise bad_arg(state, arg, f"{value!r} must be true or false")
    return value


def require_str(state, arg, default=None):
    value = state.args.get(arg, default)
    if value is not None and not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise bad_arg(state, arg, f"{value!r} must be a string")
    return None if value is None else str(value)


CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
SHELL_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A user or group for chown: a name as useradd/systemd accept it (no leading '-', no ':'), or a number.
OWNER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?")


def check_path(state, arg, value):
    """`value` as an absolute path: a string starting with '/', without control characters."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise bad_arg(state, arg, f"{value!r} is not an absolute path")
    if CONTROL_RE.search(value):
        raise bad_arg(state, arg, f"{value!r} contains a control character")
    return value


def require_path(state, arg, default=None):
    value = state.args.get(arg, default)
    return None if value is None else check_path(state, arg, value)


def require_mapping(state, arg):
    value = state.args.get(arg)
    if value is not None and not isinstance(value, dict):
        raise bad_arg(state, arg, f"{value!r} must be a mapping")
    return value or {}


def require_owner(state, arg):
    """user/group: a name chown accepts as one (no leading '-', no ':'), or a numeric id; None if unset."""
    value = state.args.get(arg)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not OWNER_RE.fullmatch(str(value)):
        raise bad_arg(state, arg, f"{value!r} is not a user or group name")
    return str(value)


def command_failed(result, what):
    """One-line comment for a failed remote command: its own last error line."""
    text = (result.stderr.strip() or result.stdout.strip()).splitlines()
    tail = " | ".join(text[-3:]) if text else f"exit status {result.exit_status}"
    return f"{what} failed (exit {result.exit_status}): {tail}"
