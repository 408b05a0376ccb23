"""What `inv` needs done before Invoke is imported, so a task's start loads only what runs.

Invoke's package imports, at its own start, two things no hafab task uses: its vendored copy of PyYAML
(only to read Invoke config files, with safe_load) and `unittest.mock` (which pulls in asyncio), only
for MockContext, a test helper. Here, before Invoke loads:
- `invoke.vendor.yaml` is the real PyYAML, which hafab loads anyway (same safe_load);
- `unittest.mock` is a stand-in for the one moment `invoke.context` takes `Mock` from it: Invoke gets a
  Mock that imports the real one when first called, and the stand-in leaves `sys.modules` at once, so
  any later `import unittest.mock` is the real module. Asking the stand-in for any other name also
  hands over to the real module.

It runs only for the `inv`/`invoke` program of this venv: a line of the venv's `hafab-startup.pth`
(written by `make`, see the Makefile's `startup` target) executes this file when the interpreter starts
that program, and does nothing when the file is gone. Nothing here changes what a task does.
"""

import sys
import types


def _deferred_mock(*args, **kwargs):
    """unittest.mock.Mock, imported when MockContext first wraps a method (never in a real run)."""
    from unittest.mock import Mock

    return Mock(*args, **kwargs)


class _MockStandIn(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):   # the import system's own questions (__path__, __spec__...): none here
            raise AttributeError(name)
        if sys.modules.get("unittest.mock") is self:
            del sys.modules["unittest.mock"]   # from now on, the real module
        if name == "Mock":
            return _deferred_mock
        import unittest.mock

        return getattr(unittest.mock, name)


def install():
    """Set both up; a no-op once Invoke (or unittest.mock) is already loaded."""
    if "invoke" in sys.modules:
        return
    import yaml

    sys.modules.setdefault("invoke.vendor.yaml", yaml)
    if "unittest.mock" not in sys.modules:
        sys.modules["unittest.mock"] = _MockStandIn("unittest.mock")


def pth_line(path):
    """The one line of hafab-startup.pth that runs this file (at `path`) for the inv program only."""
    return ("import os, sys; p, g = " + repr(path) + ", {'__name__': '_hafab_startup'}; "
            "os.path.basename((sys.argv or [''])[0]) in ('inv', 'invoke') and 'invoke.vendor.yaml' not in sys.modules "
            "and os.path.isfile(p) and (exec(compile(open(p).read(), p, 'exec'), g) or g['install']())\n")


if __name__ == "__main__":   # `python hafab/cli/startup.py`: print the .pth line for this file
    import os

    sys.stdout.write(pth_line(os.path.abspath(__file__)))
