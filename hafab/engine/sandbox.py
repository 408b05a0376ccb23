"""The Jinja sandbox SLS files and templates render in, and the loader that keeps imports inside the tree.

hafab runs as root and templates are input: a template may compute, loop, call macros and build lists
and dicts (`{% do list.append(x) %}`, as Salt's SLS do, so the mutable SandboxedEnvironment and not the
immutable one), but it reaches no Python internals (`__class__`, `__globals__`, `mro`, frames...), calls
nothing marked unsafe, builds nothing huge (`range`, `*`, `**`, padding widths, `lipsum` are bounded),
renders within a time budget, and `import`/`include`s only files that resolve inside states/ or files/.
What is refused raises Refused, which names what was asked for only when the template's line spells it
out (so a name computed from the pillar, e.g. the secret, is never printed).
"""

import contextlib
import os
import signal
import threading

import jinja2
from jinja2 import sandbox, utils
from jinja2.loaders import split_template_path

from hafab.engine import paths, readfile

MAX_RANGE = 100_000            # items one range() may have (Jinja's own sandbox limit)
MAX_LENGTH = 10_000_000        # characters or items `*` or a padding width may build
MAX_BITS = 100_000             # bits of an integer `*` or `**` may build
MAX_LIPSUM_WORDS = 100_000     # lipsum(n, max=...): n * max
RENDER_SECONDS = 30            # one render_string call, imports included
PADDING = ("center", "ljust", "rjust", "zfill", "expandtabs")  # str methods whose int argument is a width


class Refused(Exception):
    """What the sandbox refused, as `reason` with `{name}` standing for what the template asked for."""

    def __init__(self, reason, name=None):
        super().__init__(reason)
        self.reason = reason
        self.name = name

    def describe(self, line_text):
        """The reason; the name shown only when it is written literally on the template's line."""
        if self.name is None:
            return self.reason
        shown = repr(self.name) if isinstance(self.name, str) and self.name in (line_text or "") \
            else "(a computed name)"
        return self.reason.format(name=shown)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_repeat(sequence, times):
    if isinstance(sequence, (str, list, tuple)) and _is_int(times) and len(sequence) * times > MAX_LENGTH:
        raise Refused(f"'*' would build more than {MAX_LENGTH} items")


def _check_binop(operator, left, right):
    if operator == "*":
        _check_repeat(left, right)
        _check_repeat(right, left)
        if _is_int(left) and _is_int(right) and abs(left).bit_length() + abs(right).bit_length() > MAX_BITS:
            raise Refused(f"'*' would build an integer of more than {MAX_BITS} bits")
    elif operator == "**" and _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1 \
            and right * (abs(left).bit_length() - 1) > MAX_BITS:  # at least that many bits
        raise Refused(f"'**' would build an integer of more than {MAX_BITS} bits")


def _range(*args):
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise Refused(f"range() of more than {MAX_RANGE} items")
    return rng


def _lipsum(n=5, html=True, min=20, max=100):  # noqa: A002  Jinja's own argument names
    if not (_is_int(n) and _is_int(max)) or n * max > MAX_LIPSUM_WORDS:
        raise Refused(f"lipsum() of more than {MAX_LIPSUM_WORDS} words")
    return utils.generate_lorem_ipsum(n=n, html=html, min=min, max=max)


def _bounded_width(filter_function, position):
    """A filter whose argument at `position` (after the value) is a width: refused above MAX_LENGTH."""
    def bounded(value, *args, **kwargs):
        width = args[position] if len(args) > position else kwargs.get("width")
        if _is_int(width) and width > MAX_LENGTH:
            raise Refused(f"a width of more than {MAX_LENGTH} characters")
        return filter_function(value, *args, **kwargs)
    return bounded


class Sandbox(sandbox.SandboxedEnvironment):
    """SandboxedEnvironment that raises Refused at once (not a lazy undefined) and bounds what grows."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.globals["range"] = _range
        self.globals["lipsum"] = _lipsum
        for name in ("center", "indent"):  # the filters that pad to a width
            self.filters[name] = _bounded_width(self.filters[name], 0)

    def unsafe_undefined(self, obj, attribute):
        raise Refused(f"attribute {{name}} of type {type(obj).__name__!r} is off limits", attribute)

    def call_binop(self, context, operator, left, right):
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805  the sandbox's own signature
        if not __self.is_safe_callable(__obj):
            raise Refused("a call of a function marked unsafe")
        if getattr(__obj, "__name__", None) in PADDING and isinstance(getattr(__obj, "__self__", None), str):
            if any(_is_int(a) and a > MAX_LENGTH for a in (*args, *kwargs.values())):
                raise Refused(f"a width of more than {MAX_LENGTH} characters")
        return __context.call(__obj, *args, **kwargs)


class TreeLoader(jinja2.BaseLoader):
    """`import`/`include` names are looked up in states/ then files/; a file found there must resolve
    inside the folder it was found in, and be UTF-8 text."""

    def __init__(self, root):
        self.root = root
        self.folders = [os.path.join(root, "states"), os.path.join(root, "files")]

    def get_source(self, environment, template):
        pieces = split_template_path(template)  # refuses '..' and absolute names (TemplateNotFound)
        for folder in self.folders:
            path = os.path.join(folder, *pieces)
            if not os.path.lexists(path):
                continue
            rel = os.path.relpath(path, self.root)
            if not paths.inside(path, folder):
                raise Refused(paths.outside_message(rel, os.path.basename(folder)))
            return self._read(path, rel)
        raise jinja2.TemplateNotFound(template)

    @staticmethod
    def _read(path, rel):
        """Through readfile: a regular UTF-8 file of bounded size, else InputError naming it (exit 2)."""
        source = readfile.read_text(path, rel)
        mtime = os.path.getmtime(path)
        return source, path, lambda: _unchanged(path, mtime)


def _unchanged(path, mtime):
    try:
        return os.path.getmtime(path) == mtime
    except OSError:
        return False


@contextlib.contextmanager
def time_budget(seconds=None):
    """Refused when the block runs longer than `seconds` (default RENDER_SECONDS; main thread only:
    signals need it; inside an outer budget, that one applies)."""
    seconds = seconds or RENDER_SECONDS
    if threading.current_thread() is not threading.main_thread() or signal.getitimer(signal.ITIMER_REAL)[0]:
        yield
        return

    def expired(signum, frame):
        raise Refused(f"rendering took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
