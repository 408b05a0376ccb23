"""YAML loading that refuses duplicate keys and reports the line of every problem."""

import yaml

from hafab.engine import readfile
from hafab.engine.errors import InputError


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that raises on a key defined twice in one mapping."""


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


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class DuplicateKey(Exception):
    def __init__(self, key, first_line, line):
        self.key, self.first_line, self.line = key, first_line, line
        super().__init__(f"duplicate key {key!r} (line {line}, first defined on line {first_line})")


def load(text, where):
    """Parse YAML text; errors become one-line InputErrors naming `where` and the line."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except DuplicateKey as exc:
        raise InputError(f"{where}:{exc.line}", str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{where}{line}", f"invalid YAML: {problem}") from None


def load_file(path, where=None):
    """Parse a YAML file read through readfile (a regular UTF-8 file of bounded size, or InputError)."""
    where = where or str(path)
    return load(readfile.read_text(path, where), where)
