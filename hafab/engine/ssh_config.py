"""An ssh_config read the way OpenSSH reads it (`man ssh_config`), for the options hafab honours.

The whole file is checked when it is loaded: every line's keyword must be one hafab knows and every value
must be valid for it (a bad line anywhere is an InputError naming file:line and the option), so a bad
config is refused before any connection. `settings(name)` then gives one host's settings: for each
option the first value obtained wins (IdentityFile adds up), from the lines before the first `Host` and
from every `Host` block whose patterns match the name (`*`, `?`, several patterns, `!` negation; matched
case-sensitively against the name as given, as ssh does). A host is complete when some matching block gives it a
HostName: hafab never dials a bare name the operator did not configure.

Honoured (OpenSSH's meaning): HostName, User, Port, IdentityFile, IdentitiesOnly, UserKnownHostsFile,
GlobalKnownHostsFile, StrictHostKeyChecking, HashKnownHosts, ConnectTimeout, ServerAliveInterval,
ProxyJump. Accepted, checked, no effect (hafab never prompts, forwards, or uses passwords): see
NO_EFFECT. Anything else (Match, Include, ProxyCommand, HostKeyAlias, ...) is refused.
"""

import functools
import getpass
import hashlib
import os
import re
import socket
import stat
from dataclasses import dataclass, field

from hafab.engine import readfile
from hafab.engine.errors import InputError
from hafab.engine.ssh_options import HONOURED, KNOWN, MAX_JUMPS, READERS, REFUSED, ConfigLineError

MAX_CONFIG_BYTES = 1 << 20
@dataclass
class Option:
    name: str
    value: object
    lineno: int


@dataclass
class Block:
    patterns: list          # None for the lines before the first Host
    lineno: int
    options: list = field(default_factory=list)

    def matches(self, name):
        if self.patterns is None:
            return True
        hits = [(neg, match_pattern(name, pat)) for neg, pat in self.patterns]
        return not any(neg and hit for neg, hit in hits) and any(hit for neg, hit in hits if not neg)


def match_pattern(name, pattern):
    """ssh's pattern: `*` any run of characters, `?` any one, everything else itself (case as written)."""
    return _pattern_regex(pattern).fullmatch(name) is not None


@functools.lru_cache(maxsize=4096)
def _pattern_regex(pattern):
    """The compiled regex of one pattern, made once per process (each host is matched against every
    Host block, twice per run: a 32-host run asked for ~3000 of them)."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


@dataclass
class HostSettings:
    """One host's resolved settings (what connect uses); `lines` maps option -> file:line it came from."""
    name: str
    hostname: str
    port: int = 22
    user: str = ""
    identity_files: list = field(default_factory=list)
    identities_only: bool = False
    user_known_hosts: list = field(default_factory=lambda: ["~/.ssh/known_hosts", "~/.ssh/known_hosts2"])
    global_known_hosts: list = field(default_factory=lambda: ["/etc/ssh/ssh_known_hosts",
                                                              "/etc/ssh/ssh_known_hosts2"])
    strict: str = "ask"
    hash_known_hosts: bool = False
    connect_timeout: float = 0.0
    alive_interval: int = 0
    jumps: list = field(default_factory=list)   # HostSettings of each jump host, first dialled first
    lines: dict = field(default_factory=dict)

    def where(self, option):
        return self.lines.get(option, "")


def split_args(text):
    """ssh's argument splitting: whitespace separates, "..." or '...' group, a backslash escapes a quote,
    a backslash or a space; an unquoted `#` starting an argument ends the line."""
    args, current, quote, started, i = [], [], None, False, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "\\\"' ":
            current.append(text[i + 1])
            started, i = True, i + 2
            continue
        if quote:
            if c == quote:
                quote = None
            else:
                current.append(c)
        elif c in "\"'":
            quote, started = c, True
        elif c.isspace():
            if started:
                args.append("".join(current))
            current, started = [], False
        elif c == "#" and not started:
            break
        else:
            current.append(c)
            started = True
        i += 1
    if quote:
        raise ConfigLineError("unterminated quote")
    if started:
        args.append("".join(current))
    return args


LINE_RE = re.compile(r"([A-Za-z][A-Za-z0-9]*)(?:\s*=\s*|\s+|$)(.*)", re.DOTALL)


def parse(text, path):
    """SshConfig from the file's text; InputError naming path:line and the option for any bad line."""
    blocks = [Block(None, 0)]
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r").strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{lineno}"
        bad = next((c for c in line if ord(c) < 32 and c != "\t" or ord(c) == 127), None)
        if bad is not None:
            raise InputError(where, f"control character {bad!r} in the line")
        match = LINE_RE.fullmatch(line)
        if not match:
            raise InputError(where, f"{line[:40]!r} is not `Option value`")
        keyword, rest = match.group(1), match.group(2)
        try:
            args = split_args(rest)
        except ConfigLineError as exc:
            raise InputError(where, f"{keyword}: {exc}") from None
        if keyword.lower() == "host":
            blocks.append(Block(_host_patterns(args, where), lineno))
        else:
            blocks[-1].options.append(_option(keyword, args, where, lineno))
    return SshConfig(path, blocks)


def _host_patterns(args, where):
    if not args:
        raise InputError(where, "Host: needs at least one pattern")
    patterns = []
    for arg in args:
        negated = arg.startswith("!")
        pattern = arg[1:] if negated else arg
        if not pattern:
            raise InputError(where, f"Host: {arg!r} is not a pattern")
        patterns.append((negated, pattern))
    return patterns


def _option(keyword, args, where, lineno):
    lower = keyword.lower()
    if lower in REFUSED:
        raise InputError(where, f"{keyword}: {REFUSED[lower]}")
    if lower not in KNOWN:
        raise InputError(where, f"{keyword}: not an option hafab supports (it honours "
                                f"{', '.join(HONOURED)})")
    name = KNOWN[lower]
    try:
        value = READERS[name](args)
    except ConfigLineError as exc:
        raise InputError(where, f"{name}: {exc}") from None
    return Option(name, value, lineno)


class SshConfig:
    """A checked ssh_config; `settings(name)` resolves one host; os.fspath() gives its path."""

    def __init__(self, path, blocks):
        self.path = str(path)
        self.blocks = blocks

    def __fspath__(self):
        return self.path

    def __str__(self):
        return self.path

    def check(self, names):
        """Every name resolves completely (InputError otherwise); {name: HostSettings}."""
        return {name: self.settings(name) for name in names}

    def settings(self, name, jump=False, seen=(), own_jumps=True):
        """HostSettings for `name`; a jump host may go without HostName (it was named in ProxyJump)."""
        found, identities = {}, []
        for block in self.blocks:
            if block.matches(name):
                for opt in block.options:
                    if opt.name == "IdentityFile":
                        identities.append(opt)
                    else:
                        found.setdefault(opt.name, opt)
        if "HostName" not in found and not jump:
            raise InputError(self.path, f"no Host block gives {name!r} a HostName; hafab dials only the "
                                        "hosts its ssh_config names")
        host = HostSettings(name, name)
        host.lines = {opt: f"{self.path}:{o.lineno}" for opt, o in (*found.items(), *(
            [("IdentityFile", identities[0])] if identities else []))}
        _apply(host, found, identities)
        if "HostName" in found:
            host.hostname = self._expand(found["HostName"], {"%": "%", "h": name})
        tokens = _path_tokens(host)
        host.identity_files = [self._expand(o, tokens, path=True) for o in identities]
        for attr, option in (("user_known_hosts", "UserKnownHostsFile"), ("global_known_hosts", "GlobalKnownHostsFile")):
            if option in found:
                setattr(host, attr, [self._expand(Option(option, f, found[option].lineno), tokens, path=True)
                                     for f in found[option].value])
            else:
                setattr(host, attr, [os.path.expanduser(f) for f in getattr(host, attr)])
        if "ProxyJump" in found and own_jumps:
            host.jumps = self._jump_chain(found["ProxyJump"], (*seen, name))
        return host

    def _jump_chain(self, option, seen):
        if len(seen) > MAX_JUMPS:
            raise InputError(f"{self.path}:{option.lineno}", f"ProxyJump: more than {MAX_JUMPS} jumps deep")
        chain = []
        for index, (user, name, port) in enumerate(option.value):
            if name in seen:
                raise InputError(f"{self.path}:{option.lineno}", f"ProxyJump: {name!r} would be reached through "
                                                                 f"itself ({' -> '.join((*seen, name))})")
            # a later hop is reached through the one before it (its own ProxyJump unused), as `ssh -J a,b`
            hop = self.settings(name, jump=True, seen=seen, own_jumps=index == 0)
            hop.user, hop.port = user or hop.user, port or hop.port
            chain.append(hop)
        return chain

    def _expand(self, option, tokens, path=False):
        """%-tokens (those OpenSSH allows for the option), then ${VAR} and ~ for paths."""
        where = f"{self.path}:{option.lineno}"

        def token(match):
            if match.group(1) not in tokens:
                raise InputError(where, f"{option.name}: %{match.group(1)} is not a token hafab expands here")
            return tokens[match.group(1)]

        value = re.sub(r"%(.?)", token, option.value)
        if path:
            def env(match):
                if match.group(1) not in os.environ:
                    raise InputError(where, f"{option.name}: environment variable {match.group(1)} is not set")
                return os.environ[match.group(1)]
            value = os.path.expanduser(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", env, value))
        return value


def _apply(host, found, identities):
    plain = {"User": "user", "Port": "port", "IdentitiesOnly": "identities_only",
             "StrictHostKeyChecking": "strict", "HashKnownHosts": "hash_known_hosts",
             "ConnectTimeout": "connect_timeout", "ServerAliveInterval": "alive_interval"}
    for option, attr in plain.items():
        if option in found:
            setattr(host, attr, found[option].value)
    host.user = host.user or getpass.getuser()


def _path_tokens(host):
    local = socket.gethostname()
    return {"%": "%", "d": os.path.expanduser("~"), "h": host.hostname, "n": host.name, "p": str(host.port),
            "r": host.user, "u": getpass.getuser(), "i": str(os.getuid()), "k": host.name,
            "L": local.split(".")[0], "l": local,
            "C": hashlib.sha1(f"{local}{host.hostname}{host.port}{host.user}".encode()).hexdigest()}


def read_config(path):
    """The ssh_config file's text through readfile: a regular file, at most 1 MiB, UTF-8; InputError otherwise."""
    return readfile.read_text(path, str(path), limit=MAX_CONFIG_BYTES)


def load(path):
    """Read and check the ssh_config at `path` (InputError when it is unusable)."""
    return parse(read_config(path), str(path))
