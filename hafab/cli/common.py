"""What every task shares: one-line errors on stderr and the contract's exit codes."""

import functools
import sys

from invoke import Exit

from hafab.engine.errors import HafabError


def reports_errors(func):
    """Turn a HafabError into its one-line message on stderr and its exit code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except HafabError as exc:
            print(str(exc), file=sys.stderr)
            raise Exit(code=exc.exit_code) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise Exit(code=1) from None

    return wrapper


def split_list(value):
    """'a,b' -> ['a', 'b'] for comma-separated flags; None stays None."""
    if not value:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]
