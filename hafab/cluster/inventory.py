"""Load and validate hosts.yaml (every key of docs/contract.md; anything else is an error)."""

import datetime
import ipaddress
import os
import re
from dataclasses import dataclass, field

from hafab.cluster import secrets, tls
from hafab.engine import yamlio
from hafab.engine.errors import InputError

# Every pattern is matched with fullmatch (a `$` would let one trailing newline through).
HOSTNAME_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
CLUSTER_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
INTERFACE_RE = re.compile(r"[A-Za-z0-9._-]{1,15}")
ROLE_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9_-]{0,30}[A-Za-z0-9])?")
# C0 controls, DEL, C1 controls, the Unicode line/paragraph separators, bidi embeddings, overrides, isolates
CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
MAX_VARS_NODES = 10000  # values in one host's vars, counting every use of a YAML alias

CLUSTER_DEFAULTS = {
    "name": None,
    "preempt": False,
    "timings": "tuned",
    "persistence": "none",
    "mode": "http",
    "block_direct": True,
    "stats_password_file": ".secrets/stats-password",
    "keep_runs": 10,
    "metrics_from": None,   # default: the subnet's first address (the lab bridge: the operator machine)
    "vrrp": "multicast",
    "tls": "none",          # none | self-signed | files (hafab/cluster/tls.py)
    "http": None,           # port 80: redirect | serve | off (default: redirect with TLS, serve without)
    "tls_cert": None,       # cluster.tls: files: the certificate (PEM, inside the repository)
    "tls_key": None,        # ... and its private key (PEM, unencrypted, mode 0600)
    "tls_ca": None,         # ... and, optionally, the CA inv verify checks the chain against
}
CLUSTER_REQUIRED = ("vip", "subnet", "interface", "virtual_router_id")
CLUSTER_CHOICES = {
    "timings": ("tuned", "seed"),
    "persistence": ("none", "cookie", "source"),
    "mode": ("http", "tcp"),
    "vrrp": ("multicast", "unicast"),
    "tls": ("none", "self-signed", "files"),
}
HTTP_CHOICES = ("redirect", "serve", "off")
TLS_FILE_KEYS = ("tls_cert", "tls_key", "tls_ca")
HOST_KEYS = ("address", "roles", "priority", "vars")
VARS_SCALARS = (str, int, float, bool, type(None), datetime.date)  # date covers datetime


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
            known = {r for h in self.hosts.values() for r in h.roles}
            unknown = [r for r in roles if r not in known]
            if unknown:
                raise InputError(self.where, f"--roles: no host has the role {unknown[0]!r}")
            chosen = [h for h in chosen if set(roles) & set(h.roles)]
        return chosen

    @property
    def where(self):
        return os.path.basename(self.path) or self.path


def load(path="hosts.yaml"):
    where = os.path.basename(path) or path  # "dir/" names itself
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
            raise InputError(where, f"{prefix}{_label(key)}: unknown key (allowed: {', '.join(allowed)})")


def _label(key):
    """A key as it is named in a message: as written, or quoted and escaped when it holds a control character."""
    return key if isinstance(key, str) and not CONTROL_RE.search(key) else repr(key)


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
    _cluster_name(where, cluster, "name" in raw and raw["name"] is not None)
    try:
        if not isinstance(raw["subnet"], str):
            raise ValueError("not a string")
        subnet = ipaddress.IPv4Network(raw["subnet"], strict=True)
    except ValueError as exc:
        raise InputError(where, f"cluster.subnet: {raw['subnet']!r} is not an IPv4 network ({exc})") from None
    if subnet.num_addresses < 4:
        raise InputError(where, f"cluster.subnet: {raw['subnet']!r} is too small")
    cluster["subnet"] = str(subnet)
    cluster["metrics_from"] = _metrics_from(where, cluster["metrics_from"], subnet)
    vip = _ipv4(where, "cluster.vip", raw["vip"])
    if vip not in subnet or vip in (subnet.network_address, subnet.broadcast_address):
        raise InputError(where, f"cluster.vip: {raw['vip']!r} is not a host address inside cluster.subnet {subnet}")
    cluster["vip"] = str(vip)
    interface = cluster["interface"]
    if not _matches(INTERFACE_RE, interface) or interface in (".", ".."):
        raise InputError(where, f"cluster.interface: {interface!r} is not an interface name "
                                "(1 to 15 letters, digits, '.', '_', '-')")
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
    if not isinstance(cluster["stats_password_file"], str) or not cluster["stats_password_file"]:
        raise InputError(where, "cluster.stats_password_file: must be a path")
    no_control_characters(where, "cluster.stats_password_file", cluster["stats_password_file"])
    problem = secrets.path_problem(os.path.dirname(os.path.abspath(path)), cluster["stats_password_file"])
    if problem:
        raise InputError(where, f"cluster.stats_password_file: {cluster['stats_password_file']!r} {problem}")
    _tls(where, cluster, path)
    return cluster


def _tls(where, cluster, path):
    """cluster.tls, cluster.http and (tls: files) the certificate files, checked now: nothing is sent
    with a pair that does not match, has expired or does not cover the VIP and cluster.name."""
    tls_on = cluster["tls"] != "none"
    if cluster["http"] is None:
        cluster["http"] = "redirect" if tls_on else "serve"
    if cluster["http"] not in HTTP_CHOICES:
        raise InputError(where, f"cluster.http: {cluster['http']!r} must be one of {', '.join(HTTP_CHOICES)}")
    if not tls_on and cluster["http"] != "serve":
        raise InputError(where, f"cluster.http: {cluster['http']!r} needs cluster.tls: self-signed or files "
                                "(without TLS port 80 serves)")
    if tls_on and cluster["mode"] != "http":
        raise InputError(where, "cluster.tls: HAProxy terminates TLS in cluster.mode: http only (mode tcp "
                                "passes the connections through)")
    given = [key for key in TLS_FILE_KEYS if cluster[key] is not None]
    if cluster["tls"] != "files":
        if given:
            raise InputError(where, f"cluster.{given[0]}: only used with cluster.tls: files")
        return
    root = os.path.dirname(os.path.abspath(path))
    for key in TLS_FILE_KEYS:
        if cluster[key] is None:
            if key == "tls_ca":
                continue
            raise InputError(where, f"cluster.{key}: missing (required with cluster.tls: files)")
        if isinstance(cluster[key], str):
            no_control_characters(where, f"cluster.{key}", cluster[key])
        problem = secrets.path_problem(root, cluster[key])
        if problem:
            raise InputError(where, f"cluster.{key}: {cluster[key]!r} {problem}")
        if not os.path.isfile(os.path.join(root, cluster[key])):
            raise InputError(where, f"cluster.{key}: {cluster[key]!r} is not a file")
    tls.check_files(root, cluster)


def _metrics_from(where, value, subnet):
    """Who may scrape the LBs' metrics: one IPv4 address or network (default: the subnet's first address)."""
    if value is None:
        return str(subnet.network_address + 1)
    try:
        if not isinstance(value, str):
            raise ValueError("not a string")
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise InputError(where, f"cluster.metrics_from: {value!r} is not an IPv4 address or network ({exc})") from None
    return str(network.network_address) if network.prefixlen == 32 else str(network)


def _matches(pattern, value):
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _cluster_name(where, cluster, given):
    name = cluster["name"]
    if _matches(CLUSTER_NAME_RE, name):
        return
    rule = "1 to 63 letters, digits, '.', '_', '-', starting with a letter or digit"
    if not given:
        raise InputError(where, f"cluster.name: missing, and the directory name {name!r} is not a valid "
                                f"cluster name ({rule}): set cluster.name")
    raise InputError(where, f"cluster.name: {name!r} is not a valid cluster name ({rule})")


def no_control_characters(where, key, text):
    """InputError naming `where` and `key` when `text` holds a control character (shown as U+XXXX)."""
    match = CONTROL_RE.search(text)
    if match:
        prefix = f"{key}: " if key else ""
        raise InputError(where, f"{prefix}contains the control character U+{ord(match.group()):04X}")


def _hosts(where, raw, cluster):
    subnet = ipaddress.IPv4Network(cluster["subnet"])
    seen_addresses = {cluster["vip"]: "cluster.vip"}
    seen_priorities = {}
    hosts = {}
    for name, spec in raw.items():
        key = f"hosts.{_label(name)}"
        if not _matches(HOSTNAME_RE, name):
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
        roles = _roles(where, key, spec.get("roles"))
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
        host_vars = _host_vars(where, key, spec.get("vars"))
        hosts[name] = Host(name=name, address=str(address), roles=roles, priority=priority, vars=host_vars)
    return hosts


def _roles(where, key, roles):
    if not isinstance(roles, list) or not roles:
        raise InputError(where, f"{key}.roles: must be a non-empty list of role names")
    seen = set()
    for role in roles:
        if not _matches(ROLE_RE, role):
            raise InputError(where, f"{key}.roles: {role!r} is not a valid role name "
                                    "(1 to 32 letters, digits, '_', '-', starting and ending with a letter or digit)")
        if role in seen:
            raise InputError(where, f"{key}.roles: {role!r} is listed twice")
        seen.add(role)
    return list(roles)


def _validated_keys(key):
    """What each pillar key hafab fills in itself (from a validated setting) is validated as."""
    keys = {name: f"cluster.{name}" for name in CLUSTER_REQUIRED + tuple(CLUSTER_DEFAULTS)}
    keys.update({name: f"{key}.{name}" for name in ("address", "roles", "priority")})
    keys.update(hosts="hosts", stats_password="stats_password (read from cluster.stats_password_file)")
    keys.update({name: f"{name} (from cluster.tls)" for name in
                 ("tls_pem", "tls_pem_path", "https_port", "tls_ciphers", "tls_ciphersuites")})
    return keys


def _host_vars(where, key, host_vars):
    """A host's vars: a mapping that shadows no validated key, whose strings carry no control character."""
    if host_vars is None:
        return {}
    if not isinstance(host_vars, dict):
        raise InputError(where, f"{key}.vars: must be a mapping")
    validated = _validated_keys(key)
    for name in host_vars:
        if name in validated:
            raise InputError(where, f"{key}.vars.{name}: shadows the validated key {validated[name]}")
    _check_value(where, f"{key}.vars", host_vars, [0], ())
    return host_vars


def _check_value(where, path, value, count, ancestors):
    """Walk a vars value: only YAML's plain types, no control character in any string (keys too), bounded."""
    count[0] += 1
    if count[0] > MAX_VARS_NODES:
        raise InputError(where, f"{path}: more than {MAX_VARS_NODES} values (YAML aliases count each time used)")
    if isinstance(value, (dict, list)):
        if any(value is a for a in ancestors):
            raise InputError(where, f"{path}: contains itself (a YAML alias loop)")
        items = value.items() if isinstance(value, dict) else ((f"[{i}]", v) for i, v in enumerate(value))
        for name, item in items:
            if isinstance(value, dict) and isinstance(name, str):
                no_control_characters(where, f"{path}: key {name!r}", name)
            label = name if isinstance(value, list) else f".{name}"
            _check_value(where, f"{path}{label}", item, count, (*ancestors, value))
    elif isinstance(value, str):
        no_control_characters(where, path, value)
    elif not isinstance(value, VARS_SCALARS):
        raise InputError(where, f"{path}: a {type(value).__name__} is not allowed (strings, numbers, booleans, "
                                "dates, lists and mappings are)")
