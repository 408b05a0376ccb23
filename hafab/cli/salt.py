"""`inv salt.*`: hand the state tree to Salt (export), and the offline Salt wheel cache for the lab."""

from invoke import Collection, task

from hafab.cli.common import path_flag, reports_errors
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
    from hafab.cluster.inventory import load

    path = salt_export.export(load(path_flag("--inventory", inventory)), out=out, progress=_progress)
    return TaskResult(True, str(path), f"{path}\n")


@task(auto_shortflags=False)
@reports_errors
def cache(c):
    """Build (once) the wheel cache that installs Salt 3008.4 on lab hosts offline; print its path."""
    from hafab.lab import saltcache

    path = saltcache.ensure(progress=_progress)
    return TaskResult(True, str(path), f"{path}\n")


@task(auto_shortflags=False, optional=["export", "inventory"], help={
    "export": "An export of `inv salt.export` (default: out/salt): the master's file_roots and pillar_roots.",
    "down": "Stop and remove it all: every host's minion (stopped, disabled, uninstalled), then the master "
            "and its directory.",
    "json": "Print one JSON document (the master, and each host's accepted key fingerprint or error).",
    "inventory": INVENTORY_HELP})
@reports_errors
def master(c, export="out/salt", down=False, json=False, inventory="hosts.yaml"):
    """Run a real salt-master 3008 for the lab, and a minion on every host of hosts.yaml.

    The master runs on this machine, bound to the lab bridge's own address only (ports 4505/4506),
    auto_accept and open_mode off; it dies with the lab (`inv lab.down` stops it by pid). Each minion
    (id = host name) is installed from the offline wheel cache, and its key accepted only when its
    fingerprint on the master equals the one the host reports over SSH; a mismatch deletes the key and
    fails that host (exit 1), the others go on. Then: `salt -c CONFIG_DIR '*' state.apply` (printed).
    """
    from hafab.cluster import salt_export
    from hafab.cluster.inventory import load
    from hafab.lab import saltlab

    inv_ = load(path_flag("--inventory", inventory))
    if down:
        doc = saltlab.down(inv_, progress=_progress)
        ok = all(r["ok"] for r in doc["hosts"].values())
        return TaskResult(ok, doc, "salt master: down\n" if ok else "salt master: down, some minions not removed\n")
    export_dir = salt_export.check_export(path_flag("--export", export), inv_)
    saltlab.require_up(inv_)
    doc = saltlab.up(inv_, export_dir, progress=_progress)
    ok = all(r["ok"] for r in doc["hosts"].values())
    m = doc["master"]
    lines = [f"salt master: pid {m['pid']} on {m['address']}:{m['ports'][0]},{m['ports'][1]}, roots {m['export']}"]
    lines += [f"  {h}: " + (f"accepted {r['fingerprint']}" if r["ok"] else r["error"]) for h, r in doc["hosts"].items()]
    lines.append(f"run: {m['salt']} -c {m['config_dir']} '*' state.apply   (rolling: add -b 1)")
    return TaskResult(ok, doc, "\n".join(lines) + "\n")


salt_collection = Collection("salt", export, cache, master)
