"""What every task shares: its result printed and turned into the contract's exit code, in one place.

A task returns a TaskResult (printed as its text, or with --json as one JSON document on stdout; exit 0
when ok, else 1) or None (exit 0). A HafabError becomes its one line on stderr and its exit code (2 for
bad input, 1 otherwise), after the partial result it carries, if any.
"""

import functools
import sys

from invoke import Exit

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
                exc.result.write(sys.stdout, as_json)
            print(str(exc), file=sys.stderr)
            raise Exit(code=exc.exit_code) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise Exit(code=EXIT_FAILED) from None
        if isinstance(result, TaskResult):
            result.write(sys.stdout, as_json)
            if result.exit_code:
                raise Exit(code=result.exit_code)
        return None

    return wrapper


def split_list(value):
    """'a,b' -> ['a', 'b'] for comma-separated flags; None stays None."""
    if not value:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]
