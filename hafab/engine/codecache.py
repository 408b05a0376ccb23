"""A disk cache of compiled Jinja templates (Python code objects), so a run does not compile again the
SLS files and templates it compiled last time.

What is cached is the code Jinja generates from a template's SOURCE, never a rendered text: pillar and
grains only exist at render time, so the stats password or any other pillar value is never in it. A
source that holds a registered secret (hafab.engine.boundary) is not cached. An entry's name is the
SHA-256 of everything the code depends on: the template's name, file name and full source, and a tag of
the Python and Jinja versions and of hafab's own rendering code (render.py, sandbox.py, this module), so
any changed input compiles again and an old entry is never read for it.

Only a run that may write locally fills the cache (`writes=True`: a real provision); any other run
(`--check` above all, which writes nothing but the secret) only reads it: it creates no directory and
writes no entry.

The directory is created mode 0700 and used only when it is a real directory (not a link) owned by this
user with no group or other permission; it is opened once and every entry is read and written relative
to that open directory, so no one else can put code in it. Anything unusable means no cache (the
template is compiled, as without one); the cache never turns into an error.
"""

import hashlib
import marshal
import os
import stat
import sys
import types

import jinja2
from jinja2.bccache import Bucket, BytecodeCache

from hafab.engine import boundary

MAX_ENTRY = 8 * 1024 * 1024   # bytes of one cached code object
_CODE_FILES = ("../__init__.py", "render.py", "sandbox.py", "codecache.py")   # hafab's version is in the first


def default_directory():
    """$XDG_CACHE_HOME/hafab/templates, else ~/.cache/hafab/templates; HAFAB_CACHE_DIR overrides,
    and HAFAB_CACHE_DIR=off turns the cache off."""
    given = os.environ.get("HAFAB_CACHE_DIR")
    if given:
        return None if given == "off" else given
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "hafab", "templates")


def version_tag():
    """What every entry depends on besides its own template: Python, Jinja, hafab and its render code."""
    digest = hashlib.sha256(f"{sys.version}|{jinja2.__version__}".encode())
    here = os.path.dirname(os.path.abspath(__file__))
    for name in _CODE_FILES:
        with open(os.path.join(here, name), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def open_private_directory(path, create=True):
    """A file descriptor of `path` (created 0700 when `create`) when it is ours alone, else None."""
    try:
        if create:
            os.makedirs(path, mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    info = os.fstat(fd)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        os.close(fd)
        return None
    return fd


class CodeCache(BytecodeCache):
    """Jinja's bytecode-cache hooks over one private directory; entries are marshalled code objects."""

    def __init__(self, directory, writes=False):
        self.writes = writes
        self.fd = open_private_directory(directory, create=writes)
        self.tag = version_tag() if self.fd is not None else ""

    def entry_name(self, name, filename, source):
        digest = hashlib.sha256(self.tag.encode())
        for part in (name or "", filename or "", source):
            digest.update(b"\0" + part.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def get_bucket(self, environment, name, filename, source):
        bucket = Bucket(environment, self.entry_name(name, filename, source), "")
        bucket.cacheable = self.fd is not None and boundary.redact(source) == source
        if bucket.cacheable:
            self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket):
        try:
            fd = os.open(bucket.key, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=self.fd)
        except OSError:
            return
        try:
            with os.fdopen(fd, "rb") as f:
                data = f.read(MAX_ENTRY + 1)
            code = marshal.loads(data) if len(data) <= MAX_ENTRY else None
        except (OSError, ValueError, EOFError, TypeError):
            code = None
        bucket.code = code if isinstance(code, types.CodeType) else None

    def dump_bytecode(self, bucket):
        if not self.writes or not getattr(bucket, "cacheable", False) or bucket.code is None:
            return
        data = marshal.dumps(bucket.code)
        if len(data) > MAX_ENTRY:
            return
        temp = f".{bucket.key}.{os.getpid()}.tmp"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=self.fd)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(temp, bucket.key, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except OSError:
            try:
                os.unlink(temp, dir_fd=self.fd)
            except OSError:
                pass

    def compiled(self, environment, source, filename):
        """The code of `source` (Environment.compile's result), from the cache when it holds it."""
        bucket = self.get_bucket(environment, filename, filename, source)
        if bucket.code is None:
            bucket.code = environment.compile(source, name=filename, filename=filename)
            self.set_bucket(bucket)
        return bucket.code

