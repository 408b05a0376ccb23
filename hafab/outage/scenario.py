"""What was asked: the outage's flags checked into an OutagePlan, its name, and what the seed promises.

Order of work (docs/contract.md): load the inventory and check the flags, choose the ssh_config and check the
lab routes (InputError = exit 2, nothing sent), then connect. `prepare` does the steps before connecting.

The promise is the seed's outage table: web1 down -> everything served by web2 (and the other way
round); both webs down -> "503 Service Unavailable"; hap1 down -> the VIP moves to hap2 and service goes
on; hap2 down -> hap1 keeps it; both LBs down -> the service is down. `expectation` says it per scenario.
"""

import os
import shutil
from dataclasses import dataclass, field

from hafab.cluster import reach, roles, tls
from hafab.cluster.inventory import load as load_inventory
from hafab.cluster.probe import Prober
from hafab.engine.errors import InputError
from hafab.outage.load import MAX_RATE

KINDS = ("service", "kill", "hang", "host", "network")
MIN_DURATION, MAX_DURATION = 0.5, 600
DEFAULT_DURATION = 5.0
DEFAULT_RATE = 200


@dataclass
class OutagePlan:
    """One outage scenario, checked and ready to run."""

    inventory: object
    hosts: list               # names, in inventory order
    kind: str
    duration: float
    rate: float
    restore: bool
    ssh_config: str
    where: str                # "lab" | "vagrant" | "ssh"
    prober: Prober
    site: dict = None         # how the load reaches the VIP: {"port": 80} or HTTPS (tls.client_site)

    @property
    def name(self):
        return scenario_name(self.hosts, self.kind)


def scenario_name(hosts, kind):
    return "+".join(hosts) + " down" + ("" if kind == "service" else f" ({kind})")


def check_request(inventory, hosts, kind, duration, rate):
    """The flags' values, checked: (host names in inventory order, kind, duration, rate) or InputError."""
    if not hosts:
        raise InputError("--host", "name at least one host (e.g. --host web1 or --host web1,web2)")
    unknown = [h for h in hosts if h not in inventory.hosts]
    if unknown:
        raise InputError(inventory.where, f"hosts: no host named {unknown[0]!r} (--host)")
    if kind not in KINDS:
        raise InputError("--kind", f"{kind!r} must be one of {', '.join(KINDS)}")
    for name in hosts:
        if not roles.serving_units(inventory.hosts[name]):
            raise InputError(inventory.where, f"hosts.{name}.roles: no lb or web role, nothing to break")
    try:
        duration, rate = float(duration), float(rate)
    except (TypeError, ValueError):
        raise InputError("--duration/--rate", f"{duration!r}/{rate!r} must be numbers") from None
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise InputError("--duration", f"{duration:g} must be from {MIN_DURATION:g} to {MAX_DURATION} seconds")
    if not 1 <= rate <= MAX_RATE:
        raise InputError("--rate", f"{rate:g} must be from 1 to {MAX_RATE} requests per second")
    ordered = [h for h in inventory.hosts if h in set(hosts)]
    return ordered, kind, duration, rate


def prepare(inventory, hosts, kind="service", duration=DEFAULT_DURATION, rate=DEFAULT_RATE, restore=True,
            ssh_config=None):
    """Steps 1-3 of the order of work: an OutagePlan, or InputError (exit 2) before anything is sent."""
    if isinstance(inventory, str):
        inventory = load_inventory(inventory)
    hosts, kind, duration, rate = check_request(inventory, hosts, kind, duration, rate)
    config = reach.ssh_config_for(inventory, list(inventory.hosts.values()), ssh_config)
    where = "ssh" if ssh_config else "lab"
    if ssh_config and kind == "host":
        if shutil.which("vagrant") and os.path.exists(os.path.join(inventory.root, "Vagrantfile")):
            where = "vagrant"
        else:
            raise InputError("--kind", "host: only the lab or a Vagrant setup (Vagrantfile next to hosts.yaml "
                                       "and vagrant installed) can power hosts back on; refusing")
    prober = Prober(inventory, lab=not ssh_config)
    site = tls.client_site(inventory)   # with TLS: the cluster's CA must be there, else exit 2 before anything
    return OutagePlan(inventory, hosts, kind, duration, rate, restore, config, where, prober, site)


@dataclass
class Expectation:
    text: str
    mode: str                 # "served" | "503" | "down"
    lbs_alive: list
    webs_alive: list
    keeper: str | None = None  # the LB that held the VIP before and was not broken: it must keep it
    notes: list = field(default_factory=list)


def expectation(inventory, broken, holder_before=None, healed=()):
    """What the seed's table promises when `broken` hosts are down (`healed`: came back by themselves)."""
    down = [h for h in broken if h not in healed]
    lbs = [lb.name for lb in inventory.lbs()]
    webs = [w.name for w in inventory.webs()]
    lbs_alive = [n for n in lbs if n not in down]
    webs_alive = [n for n in webs if n not in down]
    keeper = holder_before if holder_before in lbs and holder_before not in broken else None
    notes = [f"{h} came back by itself (systemd restarted it)" for h in broken if h in healed]
    if not lbs_alive:
        return Expectation("service down: no load balancer left to answer on the VIP", "down", [], webs_alive,
                           None, notes)
    if keeper:
        lb_text = f"{keeper} keeps the VIP"
    elif len(lbs_alive) == 1:
        lb_text = f"the VIP is on {lbs_alive[0]}"
    else:
        lb_text = f"one of {', '.join(lbs_alive)} holds the VIP"
    if not webs_alive:
        return Expectation(f"{lb_text}; every request answered 503 Service Unavailable (no web server left)",
                           "503", lbs_alive, [], keeper, notes)
    served = " or ".join(webs_alive)
    tail = "service goes on" if any(n in broken for n in lbs) else f"every request served by {served}"
    if any(n in broken for n in lbs) and any(n in broken for n in webs):
        tail = f"service goes on, served by {served}"
    return Expectation(f"{lb_text} and {tail}", "served", lbs_alive, webs_alive, keeper, notes)
