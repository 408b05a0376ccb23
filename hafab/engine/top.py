"""states/top.sls: which SLS files apply to which host (env `base`; host globs, or roles with match: pillar)."""

import fnmatch
import os
import re
from dataclasses import dataclass

from hafab.engine import render
from hafab.engine import yamlio
from hafab.engine.errors import InputError

TOP = "states/top.sls"
MATCHERS = ("glob", "list", "pillar", "grain")  # pillar and grain both mean the host's roles here
SLS_NAME_RE = re.compile(r"^[\w-]+(\.[\w-]+)*$")


def sls_file(root, name):
    """Absolute path of SLS `a.b` (states/a/b.sls, else states/a/b/init.sls), or None."""
    base = os.path.join(root, "states", *name.split("."))
    for path in (base + ".sls", os.path.join(base, "init.sls")):
        if os.path.isfile(path):
            return path
    return None


def sls_candidates(name):
    rel = "/".join(name.split("."))
    return f"states/{rel}.sls or states/{rel}/init.sls"


@dataclass
class Target:
    expr: str           # 'web*' or 'roles:lb'
    match: str          # one of MATCHERS
    sls: list

    @property
    def role_pattern(self):
        return self.expr.split(":", 1)[1] if self.match in ("pillar", "grain") else None

    def matches(self, host):
        if self.match == "glob":
            return fnmatch.fnmatchcase(host.name, self.expr)
        if self.match == "list":
            return host.name in [n.strip() for n in self.expr.split(",")]
        return any(fnmatch.fnmatchcase(role, self.role_pattern) for role in host.roles)


def load(root):
    """Render and parse states/top.sls into its targets, in file order; every named SLS must exist."""
    path = os.path.join(root, TOP)
    try:
        with open(path, encoding="utf-8") as fh:
            source = fh.read()
    except OSError as exc:
        raise InputError(TOP, f"cannot read the top file: {exc.strerror}") from None
    data = yamlio.load(render.render_string(root, source, TOP, {}), TOP)
    if not isinstance(data, dict) or "base" not in data:
        raise InputError(TOP, "must be a mapping with the 'base' environment")
    for env in data:
        if env != "base":
            raise InputError(TOP, f"environment {env!r}: only 'base' is supported")
    if not isinstance(data["base"], dict) or not data["base"]:
        raise InputError(TOP, "base: must map targets to lists of SLS names")
    return [_target(root, str(expr), items) for expr, items in data["base"].items()]


def _target(root, expr, items):
    if not isinstance(items, list):
        raise InputError(TOP, f"target {expr!r}: must be a list of SLS names")
    match, names = "glob", []
    for item in items:
        if isinstance(item, dict):
            match = _match_option(expr, item)
        elif isinstance(item, str) and SLS_NAME_RE.match(item):
            names.append(item)
        else:
            raise InputError(TOP, f"target {expr!r}: {item!r} is not an SLS name")
    if match in ("pillar", "grain") and not re.match(r"^roles:.+$", expr):
        raise InputError(TOP, f"target {expr!r}: with match: {match} only 'roles:<role>' targets are supported")
    for name in names:
        if sls_file(root, name) is None:
            raise InputError(TOP, f"target {expr!r}: no SLS {name!r} ({sls_candidates(name)})")
    return Target(expr=expr, match=match, sls=names)


def _match_option(expr, item):
    if list(item) != ["match"]:
        raise InputError(TOP, f"target {expr!r}: unsupported option {item!r}")
    if item["match"] not in MATCHERS:
        raise InputError(TOP, f"target {expr!r}: match {item['match']!r} is not supported "
                              f"(use one of {', '.join(MATCHERS)})")
    return item["match"]


def assign(inventory, root=None):
    """SLS names per host name, in top-file order; validates roles and host coverage against hosts.yaml."""
    root = os.path.abspath(root or inventory.root)
    targets = load(root)
    _check_roles(inventory, targets)
    assigned = {}
    for host in inventory.hosts.values():
        names = []
        for target in targets:
            if target.matches(host):
                names.extend(n for n in target.sls if n not in names)
        if not any(target.matches(host) for target in targets):
            raise InputError(inventory.where, f"hosts.{host.name}: no target in {TOP} matches this host")
        assigned[host.name] = names
    return assigned


def _check_roles(inventory, targets):
    patterns = [t.role_pattern for t in targets if t.role_pattern]
    for host in inventory.hosts.values():
        for role in host.roles:
            if not any(fnmatch.fnmatchcase(role, p) for p in patterns):
                raise InputError(inventory.where,
                                 f"hosts.{host.name}.roles: role {role!r} is not used by any target in {TOP}")
