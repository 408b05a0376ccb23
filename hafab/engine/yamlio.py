"""YAML loading that refuses duplicate keys and reports the line of every problem.

SLS and top.sls (`load`) are read as Salt's loader (salt.utils.yamlloader) reads them: an integer written
with leading zeros means the digits written (`mode: 0640` is 640, where YAML 1.1 reads octal 416), and
a date stays the text written. Other input files (`load_file`) are read as plain YAML 1.1.
"""

import yaml

from hafab.engine import readfile
from hafab.engine.errors import InputError


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, f"unhashable key {key!r}", key_node.start_mark)
        if key in seen:
            raise DuplicateKey(key, seen[key], key_node.start_mark.line + 1)
        seen[key] = key_node.start_mark.line + 1
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


def _salt_int(loader, node):
    """Salt drops the leading zeros of an integer (not 0b/0x) and reads the rest as decimal."""
    text = node.value
    if len(text) > 1 and text.startswith("0") and not text.startswith(("0b", "0x")):
        node = yaml.ScalarNode(node.tag, text.lstrip("0") or "0", node.start_mark, node.end_mark, node.style)
    return yaml.SafeLoader.construct_yaml_int(loader, node)


def _loaders(base):
    """(strict, salt) loader classes on `base`: SafeLoader, or CSafeLoader (the same SafeConstructor and
    Resolver on libyaml's scanner and parser, so these constructors behave exactly alike)."""
    strict = type("_StrictLoader", (base,), {"__doc__": "SafeLoader that raises on a key defined twice in one mapping."})
    strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    salt = type("_SaltLoader", (strict,), {"__doc__": "_StrictLoader reading integers and dates as Salt's SLS loader does."})
    salt.add_constructor("tag:yaml.org,2002:int", _salt_int)
    salt.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_scalar)
    return strict, salt


_StrictLoader, _SaltLoader = _loaders(yaml.SafeLoader)
# libyaml parses ~10x faster. A document it refuses is parsed again by the pure-Python loader, so the
# error (its wording and line) is exactly PyYAML's own.
_FAST = dict(zip((_StrictLoader, _SaltLoader), _loaders(yaml.CSafeLoader))) if hasattr(yaml, "CSafeLoader") else {}


class DuplicateKey(Exception):
    def __init__(self, key, first_line, line):
        self.key, self.first_line, self.line = key, first_line, line
        super().__init__(f"duplicate key {key!r} (line {line}, first defined on line {first_line})")


def load(text, where, loader=_SaltLoader):
    """Parse YAML text (as Salt reads an SLS, unless `loader` says otherwise); errors become one-line
    InputErrors naming `where` and the line."""
    try:
        fast = _FAST.get(loader)
        if fast is not None:
            try:
                return yaml.load(text, Loader=fast)
            except yaml.YAMLError:
                pass   # parsed again below: the same error, in PyYAML's own words
        return yaml.load(text, Loader=loader)
    except DuplicateKey as exc:
        raise InputError(f"{where}:{exc.line}", str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{where}{line}", f"invalid YAML: {problem}") from None


def load_file(path, where=None):
    """Parse a YAML file read through readfile (a regular UTF-8 file of bounded size, or InputError), with
    the plain strict loader (a file of hafab's own, not an SLS: YAML 1.1 as written, not Salt's reading)."""
    where = where or str(path)
    return load(readfile.read_text(path, where), where, loader=_StrictLoader)
