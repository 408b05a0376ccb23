"""Load and validate hosts.yaml (every key of docs/contract.md; anything else is an error)."""

import ipaddress
import os
import re
from dataclasses import dataclass, field

from hafab.cluster import secrets
from hafab.engine import yamlio
from hafab.engine.errors import InputError

HOSTNAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")

CLUSTER_DEFAULTS = {
    "name": None,
    "preempt": False,
    "timings": "tuned",
    "persistence": "none",
    "mode": "http",
    "block_direct": True,
    "stats_password_file": ".secrets/stats-password",
    "keep_runs": 10,
}
CLUSTER_REQUIRED = ("vip", "subnet", "interface", "virtual_router_id")
CLUSTER_CHOICES = {
    "timings": ("tuned", "seed"),
    "persistence": ("none", "cookie", "source"),
    "mode": ("http", "tcp"),
}
HOST_KEYS = ("address", "roles", "priority", "vars")


@dataclass
class Host:
    name: str
    address: str
    roles: list
    priority: int | None = None
    vars: dict = field(default_factory=dict)


@dataclass
class Inventory:
    path: str
    cluster: dict
    hosts: dict  # name -> Host, in file order

    @property
    def root(self):
        return os.path.dirname(os.path.abspath(self.path))

    def lbs(self):
        return [h for h in self.hosts.values() if "lb" in h.roles]

    def webs(self):
        return [h for h in self.hosts.values() if "web" in h.roles]

    def select(self, names=None, roles=None):
        """Hosts filtered by --hosts and --roles; unknown names are bad input."""
        chosen = list(self.hosts.values())
        if names:
            unknown = [n for n in names if n not in self.hosts]
            if unknown:
                raise InputError(self.where, f"--hosts: no host named {unknown[0]!r}")
            chosen = [h for h in chosen if h.name in names]
        if roles:
            chosen = [h for h in chosen if set(roles) & set(h.roles)]
        return chosen

    @property
    def where(self):
        return os.path.basename(self.path)


def load(path="hosts.yaml"):
    where = os.path.basename(path)
    data = yamlio.load_file(path, where)
    if data is None:
        raise InputError(where, "file is empty")
    if not isinstance(data, dict):
        raise InputError(where, "top level must be a mapping with 'cluster' and 'hosts'")
    _unknown_keys(where, "", data, ("cluster", "hosts"))
    for key in ("cluster", "hosts"):
        if key not in data:
            raise InputError(where, f"{key}: missing")
        if not isinstance(data[key], dict) or not data[key]:
            raise InputError(where, f"{key}: must be a non-empty mapping")
    cluster = _cluster(where, data["cluster"], path)
    hosts = _hosts(where, data["hosts"], cluster)
    return Inventory(path=path, cluster=cluster, hosts=hosts)


def _unknown_keys(where, prefix, mapping, allowed):
    for key in mapping:
        if key not in allowed:
            raise InputError(where, f"{prefix}{key}: unknown key (allowed: {', '.join(allowed)})")


def _ipv4(where, key, value):
    if not isinstance(value, str) or "/" in value:
        raise InputError(where, f"{key}: {value!r} is not an IPv4 address")
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise InputError(where, f"{key}: {value!r} is not an IPv4 address") from None


def _int(where, key, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(where, f"{key}: {value!r} must be an integer from {low} to {high}")
    return value


def _cluster(where, raw, path):
    allowed = CLUSTER_REQUIRED + tuple(CLUSTER_DEFAULTS)
    _unknown_keys(where, "cluster.", raw, allowed)
    for key in CLUSTER_REQUIRED:
        if key not in raw:
            raise InputError(where, f"cluster.{key}: missing (required)")
    cluster = dict(CLUSTER_DEFAULTS)
    cluster.update(raw)
    if cluster["name"] is None:
        cluster["name"] = os.path.basename(os.path.dirname(os.path.abspath(path)))
    if not isinstance(cluster["name"], str) or not cluster["name"]:
        raise InputError(where, f"cluster.name: {cluster['name']!r} must be a non-empty string")
    try:
        subnet = ipaddress.IPv4Network(str(raw["subnet"]), strict=True)
    except ValueError as exc:
        raise InputError(where, f"cluster.subnet: {raw['subnet']!r} is not an IPv4 network ({exc})") from None
    if subnet.num_addresses < 4:
        raise InputError(where, f"cluster.subnet: {raw['subnet']!r} is too small")
    cluster["subnet"] = str(subnet)
    vip = _ipv4(where, "cluster.vip", raw["vip"])
    if vip not in subnet or vip in (subnet.network_address, subnet.broadcast_address):
        raise InputError(where, f"cluster.vip: {raw['vip']!r} is not a host address inside cluster.subnet {subnet}")
    if not isinstance(cluster["interface"], str) or not re.match(r"^[A-Za-z0-9._-]{1,15}$", cluster["interface"]):
        raise InputError(where, f"cluster.interface: {cluster['interface']!r} is not an interface name")
    _int(where, "cluster.virtual_router_id", cluster["virtual_router_id"], 1, 255)
    _int(where, "cluster.keep_runs", cluster["keep_runs"], 1, 1000)
    for key in ("preempt", "block_direct"):
        if not isinstance(cluster[key], bool):
            raise InputError(where, f"cluster.{key}: {cluster[key]!r} must be true or false")
    for key, choices in CLUSTER_CHOICES.items():
        if cluster[key] not in choices:
            raise InputError(where, f"cluster.{key}: {cluster[key]!r} must be one of {', '.join(choices)}")
    if cluster["persistence"] == "cookie" and cluster["mode"] != "http":
        raise InputError(where, "cluster.persistence: 'cookie' needs cluster.mode: http (use 'source' with tcp)")
    problem = secrets.path_problem(os.path.dirname(os.path.abspath(path)), cluster["stats_password_file"])
    if problem:
        raise InputError(where, f"cluster.stats_password_file: {cluster['stats_password_file']!r} {problem}")
    return cluster


def _hosts(where, raw, cluster):
    subnet = ipaddress.IPv4Network(cluster["subnet"])
    seen_addresses = {cluster["vip"]: "cluster.vip"}
    seen_priorities = {}
    hosts = {}
    for name, spec in raw.items():
        key = f"hosts.{name}"
        if not isinstance(name, str) or not HOSTNAME_RE.match(name):
            raise InputError(where, f"{key}: {name!r} is not a valid host name (letters, digits, hyphens)")
        if not isinstance(spec, dict):
            raise InputError(where, f"{key}: must be a mapping with address and roles")
        _unknown_keys(where, f"{key}.", spec, HOST_KEYS)
        if "address" not in spec:
            raise InputError(where, f"{key}.address: missing (required)")
        address = _ipv4(where, f"{key}.address", spec["address"])
        if address not in subnet or address in (subnet.network_address, subnet.broadcast_address):
            raise InputError(where, f"{key}.address: {spec['address']!r} is not inside cluster.subnet {subnet}")
        if address == subnet.network_address + 1:
            raise InputError(where, f"{key}.address: {spec['address']!r} is the subnet's first address, kept for the lab bridge")
        if str(address) in seen_addresses:
            raise InputError(where, f"{key}.address: {spec['address']!r} is already used by {seen_addresses[str(address)]}")
        seen_addresses[str(address)] = key
        roles = spec.get("roles")
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) and r for r in roles):
            raise InputError(where, f"{key}.roles: must be a non-empty list of role names")
        priority = spec.get("priority")
        if "lb" in roles:
            if priority is None:
                raise InputError(where, f"{key}.priority: missing (required for lb hosts)")
            _int(where, f"{key}.priority", priority, 1, 254)
            if priority in seen_priorities:
                raise InputError(where, f"{key}.priority: {priority} is already used by {seen_priorities[priority]}")
            seen_priorities[priority] = key
        elif priority is not None:
            _int(where, f"{key}.priority", priority, 1, 254)
        host_vars = spec.get("vars") or {}
        if not isinstance(host_vars, dict):
            raise InputError(where, f"{key}.vars: must be a mapping")
        hosts[name] = Host(name=name, address=str(address), roles=list(roles), priority=priority, vars=host_vars)
    return hosts
