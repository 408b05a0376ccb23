"""State functions, one module per Salt state module (like salt/states/): pkg, file, sysctl, service, cmd.

`lookup("file.managed")` returns the StateFunction that validates, plans and applies it.
"""

from hafab.engine.states.base import REGISTRY, StateFunction  # noqa: F401
from hafab.engine.states import cmd, file, pkg, restore, service, sysctl  # noqa: F401  (they register themselves)


def lookup(function):
    """The StateFunction for 'module.fun', or None when hafab does not know it."""
    return REGISTRY.get(function)
