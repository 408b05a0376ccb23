"""`inv salt.master`: the lab's salt-master (hafab.lab.saltmaster) and a minion on every host of
hosts.yaml (hafab.lab.saltminions), and taking all of it down again."""

from concurrent.futures import ThreadPoolExecutor

from hafab.engine.errors import HafabError, InputError
from hafab.lab import names, saltcache, saltmaster, saltminions, state


def require_up(inventory):
    if not state.is_up(inventory):
        raise InputError("lab", "the lab is not up: run `inv lab.up` first (the master listens on its bridge)")


def up(inventory, export_dir, progress):
    """Master up, minions installed and their keys accepted after the fingerprint check.

    Returns {"master": {...}, "hosts": {name: {"ok", "fingerprint" | "error"}}}."""
    require_up(inventory)
    cache = saltcache.ensure(progress=progress)
    found = saltmaster.start(inventory, export_dir, progress)
    hosts = sorted(inventory.hosts)
    results = {}

    def one(host):
        try:
            progress(f"salt minion: {host}: installing and starting (minion id {host})")
            saltminions.install(inventory, host, cache)
            finger = saltminions.accept(inventory, host)
            progress(f"salt minion: {host}: key {finger} accepted (the host reports the same fingerprint)")
            return host, {"ok": True, "fingerprint": finger}
        except HafabError as exc:
            progress(str(exc))
            return host, {"ok": False, "error": str(exc)}

    with ThreadPoolExecutor(max_workers=min(4, len(hosts))) as pool:
        results.update(pool.map(one, hosts))
    accepted = [h for h in hosts if results[h]["ok"]]
    for host in saltminions.wait_ping(inventory, accepted):
        results[host] = {"ok": False, "error": f"{host}: salt minion: accepted but no answer to test.ping "
                                               f"in {saltminions.PING_TIMEOUT}s"}
        progress(results[host]["error"])
    master = {"pid": found["pid"], "address": saltmaster.address(inventory), "ports": list(saltmaster.PORTS),
              "config_dir": saltmaster.config_dir(inventory), "export": export_dir,
              "salt": saltmaster.binary("salt")}
    return {"master": master, "hosts": results}


def down(inventory, progress):
    """Every host's minion removed (hosts that are up), then the master stopped and its directory removed.

    Returns {"master_was_running": bool, "hosts": {name: {"ok", "error"?}}}."""
    results = {}
    if state.is_up(inventory):
        current = state.load(inventory) or {"hosts": {}}
        for host in sorted(inventory.hosts):
            if host not in current.get("hosts", {}):
                continue
            try:
                saltminions.remove(inventory, host)
                results[host] = {"ok": True}
                progress(f"salt minion: {host}: stopped, disabled and removed")
            except HafabError as exc:
                results[host] = {"ok": False, "error": str(exc)}
                progress(str(exc))
    was = saltmaster.stop(inventory, progress)
    if not was:
        progress(f"salt master: not running ({names.bridge(inventory)})")
    return {"master_was_running": was, "hosts": results}
