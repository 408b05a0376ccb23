"""hosts.yaml as the engine's minions: each host's pillar and grains, and the compile of the chosen hosts.

Pillar: the cluster keys, the host's own keys (address, roles, priority) and its `vars` merged over them,
`hosts` (the whole inventory) and `stats_password`; on LBs `tls_pem_path`, and with cluster.tls `tls_pem` (the certificate and its key,
a secret like the stats password), where it goes and what HAProxy offers (`tls.pillar`). Grains: id, host, ipv4 = [address], roles. All of
it comes from hosts.yaml, so every host's states render and compile before any connection is opened.
"""

import copy
import fnmatch
import os

from hafab.cluster import secrets, tls
from hafab.engine import sls, top
from hafab.engine.errors import InputError
from hafab.engine.minion import Minion

ROLES_KEY = "roles"   # the pillar/grain key that top.sls targets roles by ('roles:lb' with match: pillar)


def pillar(inventory, host):
    """The pillar `host`'s states render with (also what `inv salt.export` writes for Salt)."""
    data = copy.deepcopy(inventory.cluster)
    data.update(address=host.address, roles=list(host.roles), priority=host.priority)
    data = _merge(data, copy.deepcopy(host.vars))
    data["hosts"] = {h.name: _host_dict(h) for h in inventory.hosts.values()}
    data["stats_password"] = secrets.stats_password(inventory)
    if "lb" in host.roles:
        data.update(tls.pillar(inventory))
    return data


def minion(inventory, host):
    host = inventory.hosts[host] if isinstance(host, str) else host
    grains = {"id": host.name, "host": host.name, "ipv4": [host.address], "roles": list(host.roles)}
    return Minion(id=host.name, pillar=pillar(inventory, host), grains=grains, source=inventory.where,
                  key=f"hosts.{host.name}")


def compile_hosts(inventory, hosts=None, root=None):
    """{host name: [State, ...]} for `hosts` (Host objects or names; default all), in execution order.

    Every host of the inventory must be reached by a target and every role used by one, even when only
    some hosts are compiled: the top file is checked against the whole inventory."""
    root = os.path.abspath(root or inventory.root)
    everyone = {name: minion(inventory, host) for name, host in inventory.hosts.items()}
    assigned = assign(inventory, root, everyone.values())
    chosen = list(inventory.hosts) if hosts is None else [h if isinstance(h, str) else h.name for h in hosts]
    return {name: sls.compile_minion(everyone[name], root, sls_names=assigned[name]) for name in chosen}


def assign(inventory, root=None, everyone=None):
    """SLS names per host name, in top-file order; checks roles and host coverage against hosts.yaml."""
    root = os.path.abspath(root or inventory.root)
    targets = top.load(root)
    check_roles(inventory, targets)
    everyone = everyone or [minion(inventory, host) for host in inventory.hosts.values()]
    return top.assign(everyone, root, targets)


def compile_host(inventory, host, root=None):
    """One host's States in execution order (see compile_hosts)."""
    name = host if isinstance(host, str) else host.name
    return compile_hosts(inventory, [name], root)[name]


def check_roles(inventory, targets):
    """Every role of every host is matched by a top.sls target on `roles`, else bad input naming it."""
    patterns = [t.pattern for t in targets if t.data_key == ROLES_KEY]
    for host in inventory.hosts.values():
        for role in host.roles:
            if not any(fnmatch.fnmatchcase(role, p) for p in patterns):
                raise InputError(inventory.where,
                                 f"hosts.{host.name}.roles: role {role!r} is not used by any target in {top.TOP}")


def _host_dict(host):
    return {"name": host.name, "address": host.address, "roles": list(host.roles),
            "priority": host.priority, "vars": copy.deepcopy(host.vars)}


def _merge(base, override):
    """Recursive dict merge (Salt merges pillar this way); override wins."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
