"""What every task shares: its result printed and turned into the contract's exit code, in one place.

A task returns a TaskResult (printed as its text, or with --json as one JSON document on stdout; exit 0
when ok, else 1) or None (exit 0). A HafabError becomes its one line on stderr and its exit code (2 for
bad input, 1 otherwise), after the partial result it carries, if any; a helper command that outlived its
timeout becomes one line and exit 1. Both pass the output boundary
(hafab.engine.boundary) here: secrets masked, control characters escaped.
"""

import functools
import subprocess
import sys

from invoke import Exit

from hafab.engine import boundary
from hafab.engine.errors import EXIT_FAILED, HafabError, InputError
from hafab.engine.result import TaskResult


def reports_errors(func):
    """Run the task body; print its TaskResult and map it, or the error it raised, to the exit code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        as_json = bool(kwargs.get("json"))
        try:
            result = func(*args, **kwargs)
        except HafabError as exc:
            if exc.result is not None:
                show(exc.result, as_json)
            boundary.say(str(exc))
            raise Exit(code=exc.exit_code) from None
        except subprocess.TimeoutExpired as exc:
            # a helper command hung past its bound: one line naming the program, never a traceback
            program = exc.cmd[0] if isinstance(exc.cmd, (list, tuple)) and exc.cmd else "a command"
            boundary.say(f"{program} did not finish within {exc.timeout:g} s; stopped it")
            raise Exit(code=EXIT_FAILED) from None
        except KeyboardInterrupt:
            boundary.say("interrupted")
            raise Exit(code=EXIT_FAILED) from None
        if isinstance(result, TaskResult):
            show(result, as_json)
            if result.exit_code:
                raise Exit(code=result.exit_code)
        return None

    return wrapper


def show(result, as_json=False, stream=None):
    """A TaskResult on stdout through the boundary: its text, or its document as one JSON document."""
    stream = stream or sys.stdout
    if as_json:
        stream.write(boundary.json_text(result.document, result.json_indent) + "\n")
    else:
        stream.write(boundary.text(result.text))
    stream.flush()


# ---- flag values: every task's flags are checked here, before anything else runs (exit 2) ---------------
# Value flags are declared `optional` in @task, so a flag given without its value reaches us as True
# (Invoke would exit 1 with its own message) and is refused here like any other bad value.

def number_flag(flag, value, low, high, default, unit="seconds", whole=False):
    """A number flag's value within [low, high] (None: the default); InputError naming the flag otherwise."""
    kind = "whole number" if whole else "number"
    rule = f"a {kind} of {unit} from {low:g} to {high:g}"
    if value is None:
        return default
    _given(flag, value, rule)
    try:
        number = int(value) if whole else float(value)
    except (TypeError, ValueError, OverflowError):
        number = None
    if number is None or isinstance(value, bool) or not low <= number <= high:  # NaN fails the range too
        raise InputError(flag, f"{value!r} must be {rule}")
    return number


def names_flag(flag, value, pattern, what):
    """'a,b' -> ['a', 'b'] where each name fullmatches `pattern` (None stays None); InputError otherwise."""
    if value is None:
        return None
    _given(flag, value, f"comma-separated {what}s")
    names = [item.strip(" ") for item in value.split(",")]  # spaces after commas; never a control character
    for name in names:
        if not pattern.fullmatch(name):
            raise InputError(flag, f"{name!r} is not a {what}" + ("" if name else f" (in {value!r})"))
    return names


def hostname_re():
    """The inventory's host-name pattern (the inventory code loads when a task runs, not for `inv --list`)."""
    from hafab.cluster.inventory import HOSTNAME_RE

    return HOSTNAME_RE


def path_flag(flag, value):
    """A path flag's value (None stays None): not empty, no control character; InputError otherwise."""
    if value is None:
        return None
    _given(flag, value, "a path")
    from hafab.cluster import inventory  # loaded when a task runs, not for `inv --list`

    inventory.no_control_characters(flag, "", value)
    return value


def text_flag(flag, value, default, rule):
    """A word flag's value (e.g. --kind); None: the default. `rule` says what it may be (checked where used)."""
    if value is None:
        return default
    _given(flag, value, rule)
    return value


def _given(flag, value, rule):
    if value is True or (isinstance(value, str) and not value.strip()):
        raise InputError(flag, f"needs a value: {rule}")
