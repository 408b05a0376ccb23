"""What every task shares: its result printed and turned into the contract's exit code, in one place.

A task returns a TaskResult (printed as its text, or with --json as one JSON document on stdout; exit 0
when ok, else 1) or None (exit 0). A HafabError becomes its one line on stderr and its exit code (2 for
bad input, 1 otherwise), after the partial result it carries, if any. Both pass the output boundary
(hafab.engine.boundary) here: secrets masked, control characters escaped.
"""

import functools
import sys

from invoke import Exit

from hafab.engine import boundary
from hafab.engine.errors import EXIT_FAILED, HafabError
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


def split_list(value):
    """'a,b' -> ['a', 'b'] for comma-separated flags; None stays None."""
    if not value:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]
