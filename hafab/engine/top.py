"""states/top.sls: which SLS files apply to which minion (env `base`; id globs or lists, or pillar/grain matches)."""

import fnmatch
import os
import re
from dataclasses import dataclass

from hafab.engine import paths, readfile, render, yamlio
from hafab.engine.errors import InputError

TOP = "states/top.sls"
MATCHERS = ("glob", "list", "pillar", "grain")
SLS_NAME_RE = re.compile(r"^[\w-]+(\.[\w-]+)*$")


def sls_file(root, name):
    """Absolute path of SLS `a.b` (states/a/b.sls, else states/a/b/init.sls), or None.

    A candidate that resolves outside states/ (a symbolic link) is bad input naming it."""
    states = os.path.join(root, "states")
    base = os.path.join(states, *name.split("."))
    for path in (base + ".sls", os.path.join(base, "init.sls")):
        if os.path.lexists(path):  # whatever it is: readfile refuses a directory, FIFO or device by name
            paths.require_inside(path, states, root)
            return path
    return None


def sls_candidates(name):
    rel = "/".join(name.split("."))
    return f"states/{rel}.sls or states/{rel}/init.sls"


@dataclass
class Target:
    expr: str           # 'db*', 'a,b' or, with match pillar/grain, 'KEY:PATTERN' ('os:Debian*')
    match: str          # one of MATCHERS
    sls: list

    @property
    def data_key(self):
        """With match pillar/grain: the colon path of the value matched ('os' of 'os:Debian*')."""
        return self.expr.rpartition(":")[0] if self.match in ("pillar", "grain") else None

    @property
    def pattern(self):
        return self.expr.rpartition(":")[2] if self.match in ("pillar", "grain") else self.expr

    def matches(self, minion):
        if self.match == "glob":
            return fnmatch.fnmatchcase(minion.id, self.expr)
        if self.match == "list":
            return minion.id in [n.strip() for n in self.expr.split(",")]
        data = minion.pillar if self.match == "pillar" else minion.grains
        value = render.colon_get(data, self.data_key, None)
        values = value if isinstance(value, list) else [] if value is None else [value]
        return any(fnmatch.fnmatchcase(str(v), self.pattern) for v in values)


def load(root):
    """Render and parse states/top.sls into its targets, in file order; every named SLS must exist."""
    path = paths.require_inside(os.path.join(root, TOP), os.path.join(root, "states"), root)
    source = readfile.read_text(path, TOP)
    data = yamlio.load(render.render_string(root, source, TOP, {}, cached=True), TOP)
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
    if match in ("pillar", "grain") and not re.match(r"^[^:]+(:[^:]+)*:[^:]+$", expr):
        raise InputError(TOP, f"target {expr!r}: with match: {match} the target is 'KEY:PATTERN' (a pillar or grain key, a colon, a glob)")
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


def assign(minions, root, targets=None):
    """SLS names per minion id, in top-file order; a minion no target matches is bad input."""
    targets = load(root) if targets is None else targets
    assigned = {}
    for minion in minions:
        names = []
        for target in targets:
            if target.matches(minion):
                names.extend(n for n in target.sls if n not in names)
        if not any(target.matches(minion) for target in targets):
            raise InputError(minion.source, f"{minion.key or minion.id}: no target in {TOP} matches this host")
        assigned[minion.id] = names
    return assigned
