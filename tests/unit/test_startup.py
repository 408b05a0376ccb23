"""hafab.cli.startup: run before Invoke for the `inv` program only (a .pth line), Invoke loads neither
its vendored PyYAML nor unittest.mock/asyncio, and still works: its config files are read with the
real PyYAML, MockContext wraps with the real Mock, and a later `import unittest.mock` is the real one."""

import json
import os
import subprocess
import sys

import invoke
import pytest

from hafab.cli import startup

# The probes run without the interpreter's own site step (-S: a hafab-startup.pth that `make` put in this
# venv must not act first), with Invoke's directory on the path; the probe processes the test's .pth.
SITE_PACKAGES = os.path.dirname(os.path.dirname(invoke.__file__))
ENV = dict(os.environ, PYTHONPATH=SITE_PACKAGES)

PROBE = """
import site, sys, json
site.addsitedir(sys.argv[1])          # processes the .pth there, as the interpreter's start does
loaded_early = sorted(m for m in ("unittest.mock", "asyncio", "invoke.vendor.yaml") if m in sys.modules
                      and getattr(sys.modules[m], "__file__", None))
import invoke, yaml
from invoke import Config, MockContext, Result
early = sorted(m for m in ("unittest", "unittest.mock", "asyncio") if m in sys.modules)
vendored_is_real = sys.modules["invoke.vendor.yaml"] is yaml
c = MockContext(run=Result("hi"))
out = c.run("anything").stdout
import unittest.mock
wrapped = isinstance(c.run, unittest.mock.Mock) and c.run.called
with open(sys.argv[2], "w") as f:
    f.write("run:\\n  echo: true\\n")
config = Config(runtime_path=sys.argv[2])
config.load_runtime()
print(json.dumps({"early": early, "vendored_is_real": vendored_is_real, "out": out, "wrapped": wrapped,
                  "echo": config.run.echo, "real_mock": unittest.mock.__file__ is not None}))
"""


def run_as(tmp_path, program):
    """Run PROBE as a script named `program`, with a site dir holding hafab-startup.pth."""
    site_dir = tmp_path / "site"
    site_dir.mkdir(exist_ok=True)
    (site_dir / "hafab-startup.pth").write_text(startup.pth_line(os.path.abspath(startup.__file__)))
    script = tmp_path / program
    script.write_text(PROBE)
    result = subprocess.run([sys.executable, "-S", str(script), str(site_dir), str(tmp_path / "invoke.yaml")],
                            capture_output=True, text=True, timeout=60, env=ENV)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("program,deferred", [("inv", True), ("invoke", True), ("python-other", False)])
def test_only_the_inv_program_defers_and_invoke_still_works(tmp_path, program, deferred):
    seen = run_as(tmp_path, program)
    assert seen["vendored_is_real"] is deferred
    assert ("unittest.mock" not in seen["early"] and "asyncio" not in seen["early"]) is deferred
    assert seen["out"] == "hi" and seen["wrapped"] and seen["echo"] is True and seen["real_mock"]


def test_a_missing_startup_file_is_a_no_op(tmp_path):
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "hafab-startup.pth").write_text(startup.pth_line(str(tmp_path / "gone.py")))
    script = tmp_path / "inv"
    script.write_text("import site, sys; site.addsitedir(sys.argv[1]); import invoke; "
                      "print('unittest.mock' in sys.modules)")
    result = subprocess.run([sys.executable, "-S", str(script), str(site_dir)], capture_output=True, text=True,
                            timeout=60, env=ENV)
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "True", "")


def test_install_does_nothing_once_invoke_is_loaded():
    import invoke  # noqa: F401  (loaded in this process: install must leave sys.modules alone)

    before = dict(sys.modules)
    startup.install()
    assert sys.modules == before
