"""Jinja rendering of SLS files and file templates for one minion, with its pillar and grains."""

import json
import os

import jinja2
import yaml

from hafab.engine import codecache, paths, readfile, sandbox
from hafab.engine.redact import redact
from hafab.engine.errors import InputError

_environments = {}  # root -> Environment (in practice one per process)
_templates = {}     # (root, filename, source) -> compiled Template, shared by every host
_code_caches = {}   # (directory, writes) -> CodeCache (compiled templates kept on disk between runs)
_cache_writes = []  # [True] once this process may fill the disk cache (cache_writes)


def cache_writes(allowed):
    """Whether this process may write the disk cache of compiled templates: only a run that may write
    locally says yes (a real provision); otherwise (the default, and `--check`) it is only read."""
    _cache_writes[:] = [True] if allowed else []
    for env in _environments.values():
        env.bytecode_cache = code_cache()


def code_cache():
    """The on-disk cache of compiled templates (hafab.engine.codecache), or None when it is off."""
    directory = codecache.default_directory()
    if directory is None:
        return None
    key = (directory, bool(_cache_writes))
    if key not in _code_caches:
        _code_caches[key] = codecache.CodeCache(directory, writes=key[1])
    return _code_caches[key]


def environment(root):
    """The sandboxed Jinja environment of a state tree: imports are looked up in states/ then files/."""
    env = _environments.get(root)
    if env is None:
        env = sandbox.Sandbox(
            loader=sandbox.TreeLoader(root),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"],  # as Salt enables them
        )
        env.filters["json"] = lambda value: json.dumps(value, sort_keys=True)
        env.filters["yaml"] = lambda value: yaml.safe_dump(value, default_flow_style=True).strip()
        env.bytecode_cache = code_cache()   # imported templates (files of the tree) are cached too
        _environments[root] = env
    return env


def render_string(root, source, filename, variables, cached=False):
    """Render Jinja source; any error becomes an InputError naming `filename:line` (or the imported file's).

    `cached`: the source is a file of the tree (never text rendered from the pillar), so its compiled
    code may be kept on disk (hafab.engine.codecache)."""
    env = environment(root)
    try:
        template = _templates.get((root, filename, source))
        if template is None:
            cache = env.bytecode_cache if cached else None
            code = cache.compiled(env, source, filename) if cache else env.compile(source, name=filename, filename=filename)
            template = env.template_class.from_code(env, code, env.make_globals(None))
            _templates[(root, filename, source)] = template
        with sandbox.time_budget():
            return template.render(variables)
    except jinja2.TemplateSyntaxError as exc:
        where = f"{_relative(root, exc.filename or filename)}:{exc.lineno}"
        raise InputError(where, redact(f"Jinja syntax error: {_describe(exc)}")) from None
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001  any failure inside a template is bad input
        where = _template_line(root, exc.__traceback__, filename)
        raise InputError(where, redact(_describe(exc, _line_text(root, source, filename, where)))) from None


def _template_line(root, tb, filename):
    """`file:line` of the innermost template frame of a traceback (Jinja maps frames to template lines)."""
    where = filename
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        code_file = tb.tb_frame.f_code.co_filename
        if template is not None:
            line = template.get_corresponding_lineno(tb.tb_lineno)
            where = f"{_relative(root, template.filename or filename)}:{line}"
        elif code_file == filename or code_file.startswith(_tree_dirs(root)):
            where = f"{_relative(root, code_file)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _tree_dirs(root):
    return (os.path.join(root, "states") + os.sep, os.path.join(root, "files") + os.sep)


def _describe(exc, line_text=""):
    """The exception as one line: the sandbox's refusal, Jinja's own message, else `TypeName: first line`.

    A refused name or a missing template's name is shown only when `line_text` spells it out."""
    if isinstance(exc, sandbox.Refused):
        text = f"sandbox: {exc.describe(line_text)}"
    elif isinstance(exc, jinja2.TemplateNotFound):
        text = sandbox.Refused("template {name} not found in states/ or files/", exc.name).describe(line_text)
    elif isinstance(exc, jinja2.exceptions.SecurityError):
        text = "sandbox: an operation the sandbox forbids"
    elif isinstance(exc, jinja2.TemplateError):
        text = exc.message or type(exc).__name__
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text.strip().splitlines()[0]


def _line_text(root, source, filename, where):
    """The text of the template line `where` ('file:line') names, from `source` or from the tree."""
    name, _, line = where.rpartition(":")
    if not line.isdigit() or int(line) < 1:
        return ""
    if name == filename:
        text = source
    else:
        path = os.path.join(root, name)
        if not (paths.inside(path, os.path.join(root, "states")) or paths.inside(path, os.path.join(root, "files"))):
            return ""
        try:
            text = readfile.read_text(path, name)
        except InputError:
            return ""
    lines = text.splitlines()
    return lines[int(line) - 1] if int(line) <= len(lines) else ""


def _relative(root, path):
    return os.path.relpath(path, root) if os.path.isabs(path) else path


def colon_get(data, path, default=""):
    """Salt's `pillar.get('a:b', default)`: walk nested dicts (and list indexes) along a colon path."""
    value = data
    for part in str(path).split(":"):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return default
    return value


class RenderContext:
    """Everything a template of one minion sees: its pillar, its grains and salt['pillar.get'] / ['grains.get']."""

    def __init__(self, minion, root):
        self.minion = minion
        self.root = os.path.abspath(root)
        self.pillar = minion.pillar
        self.grains = minion.grains
        self.salt = {
            "pillar.get": lambda key, default="": colon_get(self.pillar, key, default),
            "grains.get": lambda key, default="": colon_get(self.grains, key, default),
        }

    def variables(self, extra=None):
        names = {"pillar": self.pillar, "grains": self.grains, "salt": self.salt}
        if extra:
            names.update(extra)
        return names

    def relative(self, abs_path):
        return os.path.relpath(abs_path, self.root)

    def render_sls(self, path, extra=None):
        """Render one SLS file (absolute, or relative to the root) to YAML text."""
        abs_path = path if os.path.isabs(path) else os.path.join(self.root, path)
        return self._render_path(abs_path, extra, self.relative(abs_path))

    def render_text(self, text, extra=None, where="<string>"):
        """Render an inline template (e.g. `contents` with `template: jinja`); errors name `where`."""
        try:
            return render_string(self.root, text, where, self.variables(extra))
        except InputError as exc:
            line = exc.where[len(where) + 1:] if exc.where.startswith(where + ":") else ""
            if not line.isdigit():
                raise
            raise InputError(where, f"line {line} of the template: {exc.message}") from None

    def render_file(self, abs_path, extra=None, where=None):
        """Render a file.managed template; `extra` holds `defaults` updated with `context`.

        Errors name the template's file and line, then the state that uses it.
        """
        try:
            return self._render_path(abs_path, extra, where)
        except InputError as exc:
            if not where or exc.where == where:
                raise
            raise InputError(exc.where, f"{exc.message} (rendering for {where})") from None

    def _render_path(self, abs_path, extra, where):
        rel = self.relative(abs_path)
        source = readfile.read_text(abs_path, rel)
        return render_string(self.root, source, rel, self.variables(extra), cached=True)

    def source_path(self, url, where):
        """`salt://NAME` -> `<root>/files/NAME`; a missing file is bad input naming the state and url."""
        if not isinstance(url, str) or not url.startswith("salt://"):
            raise InputError(where, f"source {url!r}: only salt:// sources are supported")
        name = url[len("salt://"):]
        files = os.path.join(self.root, "files")
        path = os.path.normpath(os.path.join(files, name))
        if not name or not path.startswith(files + os.sep):
            raise InputError(where, f"source {url!r}: not a file under files/")
        if os.path.lexists(path) and not paths.inside(path, files):
            raise InputError(where, f"source {url!r}: {paths.outside_message('files/' + name, 'files')}")
        if not os.path.lexists(path):  # anything else there is refused by name when it is read (readfile)
            raise InputError(where, f"source {url!r}: no such file files/{name}")
        return path
