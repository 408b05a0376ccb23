"""Compile a host's SLS files into its States, in the order Salt runs them, before any connection.

Steps: top.sls picks the SLS names; each SLS is rendered (Jinja), parsed (YAML) and its includes loaded
first; every ID is expanded into States (one per module and per `names` item); requisites are resolved
to state keys; the States are ordered; each state function's prepare() runs.
"""

import copy
import fnmatch
import io
import os
import re

from hafab.engine import model
from hafab.engine import readfile
from hafab.engine import top
from hafab.engine import yamlio
from hafab.engine.errors import InputError
from hafab.engine.render import RenderContext

UNSUPPORTED_KEYS = ("extend", "exclude")
_parsed = {}  # (file, rendered text) -> YAML data; hosts whose SLS renders identically parse it once


def find_function(function):
    """The StateFunction for 'module.fun', or None. Imported late so this module loads without them."""
    from hafab.engine.states import lookup
    return lookup(function)


def compile_all(minions, root, targets=None):
    """{minion id: [State, ...]} for the given minions, each in execution order (top.sls loaded once)."""
    root = os.path.abspath(root)
    assigned = top.assign(minions, root, targets)
    return {m.id: compile_minion(m, root, sls_names=assigned[m.id]) for m in minions}


def compile_minion(minion, root, *, sls_names=None):
    """The minion's States in execution order, requisites resolved, each prepared by its state function."""
    root = os.path.abspath(root)
    if sls_names is None:
        sls_names = top.assign([minion], root)[minion.id]
    ctx = RenderContext(minion, root)
    loader = _Loader(ctx)
    for name in sls_names:
        loader.load(name, chain=())
    states = loader.states
    _resolve_requisites(states, loader.requisites)
    ordered = _salt_order(states)
    for state in ordered:
        _check_conditions(state)
        find_function(state.function).prepare(state, ctx)
    return ordered


def _check_conditions(state):
    """unless/onlyif: a shell command or a list of them (Salt's meaning), nothing else."""
    for arg in ("unless", "onlyif"):
        value = state.args.get(arg)
        commands = [value] if isinstance(value, str) else value
        if value is not None and not (isinstance(commands, list) and commands
                                      and all(isinstance(c, str) and c for c in commands)):
            raise InputError(state.file, f"{state.id}: {state.function}: {arg}: {value!r} must be a shell "
                                         "command or a list of them (quote words YAML reads as booleans)")


class _Loader:
    """Loads SLS files for one host, includes first, collecting States in definition order."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.states = []
        self.requisites = []   # parallel to states: {"require": [(key, value), ...], "require_in": ...}
        self.loaded = set()
        self.id_files = {}     # ID -> file that defines it

    def load(self, name, chain, included_from=None):
        if name in self.loaded:
            return
        if name in chain:
            loop = " -> ".join((*chain[chain.index(name):], name))
            raise InputError(included_from, f"include loop: {loop}")
        path = top.sls_file(self.ctx.root, name)
        if path is None:
            raise InputError(included_from or top.TOP,
                             f"include {name!r}: no SLS {name!r} ({top.sls_candidates(name)})")
        rel = self.ctx.relative(path)
        data = _parse(self.ctx.render_sls(path), rel)
        for include in _includes(data, name, rel, path):
            self.load(include, (*chain, name), included_from=rel)
        self.loaded.add(name)
        lines = _id_lines(path, rel)
        for id_, body in data.items():
            if id_ == "include":
                continue
            if id_ in UNSUPPORTED_KEYS:
                raise InputError(rel, f"{id_}: not supported by hafab")
            self._add_id(id_, body, name, rel, lines.get(str(id_), 0))

    def _add_id(self, id_, body, sls, rel, line):
        where = f"{rel}:{line}" if line else rel
        if not isinstance(id_, str):
            raise InputError(where, f"ID {id_!r} is not a string (quote it)")
        if id_ in self.id_files:
            raise InputError(where, f"ID {id_!r} is already defined in {self.id_files[id_]}")
        self.id_files[id_] = rel
        for module, fun, args in _declarations(where, id_, body):
            for name, state_args, reqs in _expand(where, id_, module, fun, args):
                self.states.append(model.State(id=id_, name=name, module=module, fun=fun, args=state_args,
                                               sls=sls, file=rel, line=line))
                self.requisites.append(reqs)


def _parse(text, rel):
    key = (rel, text)
    if key not in _parsed:
        data = yamlio.load(text, rel)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise InputError(rel, "an SLS must be a mapping of IDs to states")
        _parsed[key] = data
    return copy.deepcopy(_parsed[key])


def _includes(data, sls, rel, path):
    """Included SLS names; Salt's relative form `.name` is resolved against this SLS."""
    raw = data.get("include") or []
    if not isinstance(raw, list):
        raise InputError(rel, "include: must be a list of SLS names")
    names = []
    for item in raw:
        if not isinstance(item, str):
            raise InputError(rel, f"include: {item!r} is not an SLS name")
        if item.startswith("."):
            item = _relative_include(item, sls, rel, path)
        if not top.SLS_NAME_RE.match(item):
            raise InputError(rel, f"include: {item!r} is not an SLS name")
        names.append(item)
    return names


def _relative_include(item, sls, rel, path):
    rest = item.lstrip(".")
    levels = len(item) - len(rest)
    parts = sls.split(".") + (["init"] if os.path.basename(path) == "init.sls" else [])
    if levels > len(parts):
        raise InputError(rel, f"include: {item!r} goes above the top of states/")
    return ".".join(parts[:-levels] + [rest])


_ID_LINE_RE = re.compile(r"""^(?:'([^']*)'|"([^"]*)"|([^\s#'"{%][^:#]*?))\s*:(?:\s|$)""")


def _id_lines(path, rel):
    """Source line of each top-level key written literally (IDs made by Jinja have none)."""
    lines = {}
    for number, text in enumerate(io.StringIO(readfile.read_text(path, rel), newline=None), 1):
        match = _ID_LINE_RE.match(text)
        if match:
            key = next(g for g in match.groups() if g is not None)
            lines.setdefault(key, number)
    return lines


def _declarations(where, id_, body):
    """(module, fun, args) for each module under an ID; accepts Salt's forms.

    `mod.fun: [{arg: v}, ...]`, `mod.fun: {arg: v}`, `mod.fun: []` or empty, legacy `mod: [fun, {arg: v}]`,
    and the shorthand `ID: mod.fun`.
    """
    if isinstance(body, str):
        body = {body: []}
    if not isinstance(body, dict) or not body:
        raise InputError(where, f"ID {id_!r}: must map state functions to their arguments")
    declared = {}
    for decl, value in body.items():
        if not isinstance(decl, str) or not decl or decl.startswith("."):
            raise InputError(where, f"ID {id_!r}: {decl!r} is not a state function")
        module, _, fun = decl.partition(".")
        fun, args = _function_and_args(where, id_, decl, fun, value)
        if module in declared:
            raise InputError(where, f"ID {id_!r}: {module}.{declared[module]} and {module}.{fun}: "
                                    f"only one function per module under one ID")
        declared[module] = fun
        yield module, fun, args


def _function_and_args(where, id_, decl, fun, value):
    words, args = _arg_items(where, id_, decl, value)
    if fun and words:
        raise InputError(where, f"ID {id_!r}: {decl}: {words[0]!r} is not an argument (missing ':'?)")
    if not fun and len(words) == 1:
        fun = words[0]  # legacy form `file: [managed, ...]`
    elif not fun:
        raise InputError(where, f"ID {id_!r}: {decl}: give exactly one function (write {decl}.<function>)")
    return fun, args


def _arg_items(where, id_, decl, value):
    """Bare words and the `name: value` arguments of a declaration's list (or dict, or nothing)."""
    items = [] if value is None else [value] if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise InputError(where, f"ID {id_!r}: {decl}: arguments must be a list of 'name: value' items")
    words, args = [], {}
    for item in items:
        if isinstance(item, str):
            words.append(item)
        elif isinstance(item, dict):
            for key, val in item.items():
                if key in args:
                    raise InputError(where, f"ID {id_!r}: {decl}: argument {key!r} is given twice")
                args[key] = val
        else:
            raise InputError(where, f"ID {id_!r}: {decl}: {item!r} is not an argument")
    return words, args


def _expand(where, id_, module, fun, args):
    """(name, args, requisites) per name: `names` items (with per-name overrides) or `name`, default the ID."""
    function = f"{module}.{fun}"
    state_fn = find_function(function)
    if state_fn is None or getattr(state_fn, "internal", False):
        raise InputError(where, f"ID {id_!r}: unknown state function {function!r}")
    _check_args(where, id_, function, state_fn, args)
    names = args.pop("names", None)
    if names is None:
        items = [(_name(where, id_, function, args.pop("name", id_)), {})]
    else:
        args.pop("name", None)
        items = _names(where, id_, function, state_fn, names)
    seen = set()
    for name, overrides in items:
        if name in seen:
            raise InputError(where, f"ID {id_!r}: {function}: name {name!r} is given twice")
        seen.add(name)
        state_args = copy.deepcopy({**args, **overrides})
        reqs = {kind: _requisite_targets(where, id_, kind, state_args.pop(kind))
                for kind in model.REQUISITE_KEYS if kind in state_args}
        yield name, state_args, reqs


def _check_args(where, id_, function, state_fn, args):
    for key in args:
        if key not in state_fn.args and key not in model.GLOBAL_ARGS:
            raise InputError(where, f"ID {id_!r}: {function}: unknown argument {key!r}")


def _name(where, id_, function, value):
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or value == "":
        raise InputError(where, f"ID {id_!r}: {function}: name {value!r} must be a non-empty string")
    return str(value)


def _names(where, id_, function, state_fn, names):
    """Salt's `names`: plain names, or `{name: [{arg: value}, ...]}` items overriding arguments."""
    if not isinstance(names, list) or not names:
        raise InputError(where, f"ID {id_!r}: {function}: names must be a non-empty list")
    items = []
    for item in names:
        if isinstance(item, dict) and len(item) == 1:
            name, raw = next(iter(item.items()))
            words, overrides = _arg_items(where, id_, function, raw)
            if words:
                raise InputError(where, f"ID {id_!r}: {function}: {words[0]!r} is not an argument (missing ':'?)")
            overrides.pop("name", None)
            _check_args(where, id_, function, state_fn, overrides)
            items.append((_name(where, id_, function, name), overrides))
        else:
            items.append((_name(where, id_, function, item), {}))
    return items


def _requisite_targets(where, id_, kind, value):
    """[(module | 'id' | 'sls', pattern), ...] from `- require: [{pkg: nginx}, vim, {sls: db}]`."""
    if not isinstance(value, list):
        raise InputError(where, f"ID {id_!r}: {kind}: must be a list like [{{pkg: nginx}}] or [ID]")
    targets = []
    for item in value:
        pairs = [("id", item)] if not isinstance(item, dict) else item.items()
        for key, pattern in pairs:
            if pattern is None:
                continue  # Salt skips an empty reference
            if isinstance(pattern, bool) or not isinstance(pattern, (str, int, float)) or not isinstance(key, str):
                raise InputError(where, f"ID {id_!r}: {kind}: {item!r} is not a state reference")
            targets.append((key.split(".", 1)[0], str(pattern)))
    return targets


def _matches(state, key, pattern):
    if key == "sls":
        return fnmatch.fnmatchcase(state.sls, pattern)
    if key != "id" and key != state.module:
        return False
    return fnmatch.fnmatchcase(state.id, pattern) or fnmatch.fnmatchcase(state.name, pattern)


def _describe(state):
    name = "" if state.name == state.id else f" name {state.name!r}"
    return f"{state.id!r} ({state.function}{name})"


def _targets(states, state, kind, key, pattern):
    found = [s for s in states if _matches(s, key, pattern)]
    if not found:
        hint = ""
        if key not in ("id", "sls"):
            other = [s for s in states if _matches(s, "id", pattern)]
            if other:
                hint = f"; {', '.join(_describe(s) for s in other)} has another module"
        raise InputError(f"{state.file}:{state.line}" if state.line else state.file,
                         f"{_describe(state)}: {kind} {{{key}: {pattern}}} matches no state{hint}")
    return found


def _resolve_requisites(states, requisites):
    """Fill each State's require/watch/onchanges with target keys; `X_in` adds this state to X's list."""
    for state, reqs in zip(states, requisites):
        for kind in model.REQUISITES:
            for key, pattern in reqs.get(kind, ()):
                _append(getattr(state, kind), (t.key for t in _targets(states, state, kind, key, pattern)))
    for state, reqs in zip(states, requisites):
        for kind in model.REQUISITES:
            for key, pattern in reqs.get(f"{kind}_in", ()):
                for target in _targets(states, state, f"{kind}_in", key, pattern):
                    _append(getattr(target, kind), [state.key])


def _append(keys, new_keys):
    for key in new_keys:
        if key not in keys:
            keys.append(key)


def _salt_order(states):
    """Salt's order: definition order, and each state's not-yet-run requisites just before it, depth-first."""
    by_key = {state.key: state for state in states}
    ordered, done, path = [], set(), []  # path: keys of the states being visited

    def visit(state):
        if state.key in done:
            return
        if state.key in path:
            cycle = [by_key[key] for key in path[path.index(state.key):]] + [state]
            raise InputError(cycle[0].file, "requisite cycle: " + " -> ".join(_describe(s) for s in cycle))
        path.append(state.key)
        for kind in model.REQUISITES:  # Salt runs unmet require, then watch, then onchanges targets
            for key in getattr(state, kind):
                visit(by_key[key])
        path.pop()
        done.add(state.key)
        ordered.append(state)

    for state in states:
        visit(state)
    return ordered
