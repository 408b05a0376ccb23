"""`inv salt.*`: hand the state tree to Salt (export), and the offline Salt wheel cache for the lab."""

from invoke import Collection, task

from hafab.cli.common import path_flag, reports_errors
from hafab.cluster.inventory import load
from hafab.engine import boundary
from hafab.engine.result import TaskResult

INVENTORY_HELP = "Path of the inventory file (default: hosts.yaml)."


def _progress(line):
    boundary.say(line)


@task(auto_shortflags=False, optional=["out", "inventory"], help={
    "out": "Directory to write (default: out/salt); replaced whole, refused when it holds anything else.",
    "inventory": INVENTORY_HELP})
@reports_errors
def export(c, out="out/salt", inventory="hosts.yaml"):
    """Write states/ + files/ as a Salt file root, each host's pillar, a roster and a README to --out.

    The pillar holds the stats password: the directory is written 0700, its files 0600.
    """
    from hafab.cluster import salt_export

    out = path_flag("--out", out)
    path = salt_export.export(load(path_flag("--inventory", inventory)), out=out, progress=_progress)
    return TaskResult(True, str(path), f"{path}\n")


@task(auto_shortflags=False)
@reports_errors
def cache(c):
    """Build (once) the wheel cache that installs Salt 3008.4 on lab hosts offline; print its path."""
    from hafab.lab import saltcache

    path = saltcache.ensure(progress=_progress)
    return TaskResult(True, str(path), f"{path}\n")


salt_collection = Collection("salt", export, cache)
