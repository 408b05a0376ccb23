"""The output boundary: everything hafab shows passes through here, once per stream.

Streams and their one entry each: a task's text report `text()`, its `--json` document `json_text()`,
a one-line message (an error, a progress line) `line()` and `say()`. Every one of them
- hides every registered secret (`register()`), replaced by MASK, and
- shows control characters escaped (`\\x1b`, `\\r`, `\\x7f`, `\\x9b`, ...): C0 controls, DEL, C1 controls,
  bidirectional overrides, line separators and bytes that were not UTF-8. A report keeps its line breaks
  and tabs; a one-line message escapes them too (`\\n`, `\\t`). JSON escapes on its own.
The only terminal sequences hafab writes are its own colours: `paint()` marks a span with a marker no
data can forge (it holds a random token of this process), and `text()` turns the marks into colours
after the data around them was escaped.

Secrets found on a host: a secret changes (a new password), but a host still holds the old one until
the change is applied, and a diff of the host's file shows it. `learn_from_changes()` reads the unified
diffs of a state's changes before anything about that state is shown: each wanted line (`+`) holding a
registered secret becomes a shape, the line with each secret as a wildcard; whatever a line the host
holds (`-`) of that shape puts in that place is registered too (a host line that only starts like the
shape registers the rest of it). A value shorter than MIN_LEARNED is not registered alone (it would
mask common words everywhere): the host's whole line is, instead.

A document keeps its structure: values are redacted; a key is redacted only when it holds a secret,
and two keys never merge into one (a redacted key that meets another gets a ` #2` suffix).
"""

import json
import re
import secrets as _random
import sys
import threading

MASK = "**********"
MIN_LEARNED = 8        # a learned value shorter than this is hidden with its whole line
MAX_SECRETS = 4096     # bound on what a run can register (learned values included)

COLOURS = {"green": "0;32", "cyan": "0;36", "yellow": "0;33", "red": "0;31", "reset": "0"}

_lock = threading.Lock()
_secrets = set()
_secret_re = None      # one alternation of every secret, longest first; None while there is none

_PAINT = "\ue000" + _random.token_hex(8)    # private-use character + a token no data can guess
_PAINT_RE = re.compile(re.escape(_PAINT) + r"(\w+)\ue001")

# what a report keeps raw: printable text, line breaks and tabs; a one-line message keeps no \n nor \t
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_IN_TEXT = re.compile(f"[{_CONTROLS}]")
_IN_LINE = re.compile(f"[{_CONTROLS}\t\n]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


# ---- secrets -----------------------------------------------------------------------------------

def register(secret):
    """Hide `secret` in everything shown from now on (any non-empty string)."""
    global _secret_re
    if not isinstance(secret, str) or not secret:
        return
    with _lock:
        if secret in _secrets or len(_secrets) >= MAX_SECRETS:
            return
        _secrets.add(secret)
        ordered = sorted(_secrets, key=len, reverse=True)
        _secret_re = re.compile("|".join(re.escape(s) for s in ordered))


def redact(obj):
    """A copy of obj with every registered secret replaced by MASK: strings, and inside dicts, lists and
    tuples; dict keys only where they hold a secret, never two merged into one."""
    pattern = _secret_re
    return obj if pattern is None else _redact(obj, pattern)


def _redact(obj, pattern):
    if isinstance(obj, str):
        return pattern.sub(MASK, obj)
    if isinstance(obj, dict):
        return _redact_dict(obj, pattern)
    if isinstance(obj, list):
        return [_redact(item, pattern) for item in obj]
    if isinstance(obj, tuple):
        return tuple(_redact(item, pattern) for item in obj)
    return obj


def _redact_dict(obj, pattern):
    kept = {k for k in obj if not (isinstance(k, str) and pattern.search(k))}
    out = {}
    for key, value in obj.items():
        if key not in kept:
            shown, number = pattern.sub(MASK, key), 1
            key = shown
            while key in kept or key in out:
                number += 1
                key = f"{shown} #{number}"
        out[key] = _redact(value, pattern)
    return out


def learn_from_changes(changes):
    """Register what a host holds in place of a secret, from the unified diffs in `changes` (any
    nesting of dicts and lists; strings that are no diff teach nothing)."""
    if _secret_re is None:
        return
    for text in _strings(changes):
        if "\n" in text:
            wanted = [ln[1:] for ln in text.splitlines() if ln.startswith("+") and not ln.startswith("+++ ")]
            found = [ln[1:] for ln in text.splitlines() if ln.startswith("-") and not ln.startswith("--- ")]
            learn(wanted, found)


def learn(wanted_lines, found_lines):
    """Each wanted line holding a secret is a shape: the line with each secret a wildcard. A found line
    of that shape registers what it holds in each wildcard's place; a found line that only starts like
    the shape (the text before its first secret, when that is not blank) registers the rest of it."""
    shapes = [shape for shape in map(_line_shape, wanted_lines) if shape is not None]
    for found in found_lines if shapes else ():
        for head, pattern in shapes:
            match = pattern.fullmatch(found)
            if match:
                values = match.groups()
            elif head.strip() and found.startswith(head):
                values = [found[len(head):]]
            else:
                continue
            for value in values:
                _register_found(value, found)


def _register_found(value, found_line):
    current = _secret_re
    if not value or (current is not None and current.fullmatch(value)):
        return                                  # nothing there, or a secret already hidden
    register(value if len(value) >= MIN_LEARNED else found_line.strip() or found_line)


def _line_shape(line):
    """(text before the first secret, the line's pattern with a group per secret), or None."""
    pattern = _secret_re
    parts = pattern.split(line) if pattern is not None else [line]
    if len(parts) == 1:
        return None
    return parts[0], re.compile("(.+?)".join(re.escape(part) for part in parts), re.DOTALL)


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _strings(value)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _strings(item)


# ---- the terminal --------------------------------------------------------------------------------

def _escape_one(match):
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:          # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text, one_line=False):
    """text with every control character shown as an escape (also \\n and \\t when one_line)."""
    return (_IN_LINE if one_line else _IN_TEXT).sub(_escape_one, text)


def paint(text, colour):
    """text in one of COLOURS, as `text()` will show it (the colour is hafab's, never the data's)."""
    return f"{_PAINT}{colour}\ue001{text}{_PAINT}reset\ue001"


def text(report):
    """A report as the terminal may show it: secrets masked, controls escaped, hafab's colours."""
    pieces = _PAINT_RE.split(str(report))
    shown = []
    for index, piece in enumerate(pieces):
        if index % 2:
            shown.append(f"\033[{COLOURS.get(piece, '0')}m")
        else:
            shown.append(escape(redact(piece)))
    return "".join(shown)


def plain(report):
    """A report for a file (no terminal): secrets masked, controls escaped, line breaks and tabs kept,
    no colour."""
    return escape(redact(_PAINT_RE.sub("", str(report))))


def line(message):
    """One line (an error, a progress event): secrets masked, every control escaped, no colour."""
    return escape(redact(_PAINT_RE.sub("", str(message))), one_line=True)


def json_text(document, indent=None):
    """A --json document: exactly one JSON value, secrets masked in values and keys, structure kept."""
    plain = json.loads(json.dumps(document, default=str))
    return json.dumps(redact(plain), indent=indent)


def say(message, stream=None):
    """Write one progress line to stderr (or `stream`) through the boundary."""
    stream = stream or sys.stderr
    stream.write(line(message) + "\n")
    stream.flush()
