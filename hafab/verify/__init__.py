"""`inv verify`: prove from outside that the cluster does what the seed promises (issue 5), and (issue 17)
that each LB's Prometheus metrics answer this machine with every web server UP; `junit` writes the Report
for CI.

Order of work (docs/contract.md): load hosts.yaml; choose the target (the lab's ssh_config and routes through
its bridge, or --ssh-config); then, at the same time, open one SSH connection per host and send the HTTP
probes from this machine (through the VIP one after another, so round-robin can be judged; direct ones
to the web servers in parallel: `probes`). When the probes are done, ONE script per host, in parallel,
gathers every fact the checks need (`gather`). `checks` assembles the checks from both; the judging
rules are pure (`judge_*`); `report` prints them.
"""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from hafab.cluster import inventory as inventorylib
from hafab.cluster import probe, reach
from hafab.engine.errors import InputError
from hafab.verify import probes
from hafab.verify.checks import assemble
from hafab.verify.gather import gather_host, host_script, open_connection
from hafab.verify.report import Report, table

__all__ = ["verify", "table", "Report", "assemble", "host_script"]


def verify(inventory_path="hosts.yaml", requests=20, ssh_config=None, settle=0.0):
    """Run every check; Report. InputError (exit 2) before anything is sent when input or target is bad."""
    started = time.monotonic()
    inventory = inventorylib.load(inventory_path)
    _check_input(inventory, requests)
    hosts = list(inventory.hosts.values())
    config = reach.ssh_config_for(inventory, hosts, ssh_config)
    lab_mode = not ssh_config
    prober = probe.Prober(inventory, lab=lab_mode)   # lab: every address's route checked here
    password = probes.stats_password(inventory)
    marker = "hafab-verify-" + uuid.uuid4().hex[:16]
    if settle:
        probes.settle(prober, inventory, settle)

    with ThreadPoolExecutor(max_workers=3 * len(hosts) + 2) as pool:
        remotes = {h.name: pool.submit(open_connection, h.name, config) for h in hosts}
        direct = {w.name: pool.submit(prober.get, w.address, "/", timeout=probes.DIRECT_TIMEOUT)
                  for w in inventory.webs() if probes.wants_direct_probes(inventory)}
        metrics = {lb.name: pool.submit(probes.scrape_metrics, prober, lb, password) for lb in inventory.lbs()}
        vip = probes.probe_vip(prober, inventory, requests, marker, password)
        mac = probes.vip_mac(inventory, lab_mode)
        client = vip.marker.local
        served = vip.marker.server if vip.marker.status == 200 else None
        gathered = {h.name: pool.submit(gather_host, inventory, h, remotes[h.name], marker, client, served)
                    for h in hosts}
        facts = {name: future.result() for name, future in gathered.items()}
        direct = {name: future.result() for name, future in direct.items()}
        metrics = {name: future.result() for name, future in metrics.items()}
        _close(remotes)

    checks = assemble(inventory, facts, vip, direct, mac, marker, client, password, metrics)
    return Report(checks, time.monotonic() - started)


def _check_input(inventory, requests):
    if isinstance(requests, bool) or not isinstance(requests, int) or not 2 <= requests <= probes.MAX_REQUESTS:
        raise InputError("--requests", f"{requests!r} must be a whole number from 2 to {probes.MAX_REQUESTS}")
    if not inventory.lbs() or not inventory.webs():
        raise InputError(inventory.where, "hosts: verify needs at least one lb and one web host")


def _close(connection_futures):
    for future in connection_futures.values():
        remote = future.result()[0]
        if remote is not None:
            remote.close()
