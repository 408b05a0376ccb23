"""The ssh_config options hafab knows, and how each one's value is read (OpenSSH's syntax, `man ssh_config`).

HONOURED options change what hafab does, with OpenSSH's meaning. NO_EFFECT options are accepted and their
values checked, but change nothing: hafab never prompts, forwards an agent or X11, sends a password or
environment variables, and negotiates the SSH library's own algorithms. REFUSED options, and any keyword
not listed here, are exit 2: silently ignoring them could change where hafab connects or which host keys
it trusts.
"""

import re

MAX_CONNECT_TIMEOUT = 600
MAX_JUMPS = 8

REFUSED = {
    "match": "not supported; use Host blocks",
    "include": "not supported; put every host in this one file",
    "proxycommand": "not supported (it runs a local command); use ProxyJump",
    "hostkeyalias": "not supported; host keys are looked up by HostName and Port",
    "knownhostscommand": "not supported; use UserKnownHostsFile",
    "localcommand": "not supported (it runs a local command)",
    "permitlocalcommand": "not supported",
    "canonicalizehostname": "not supported; give each host its HostName",
    "verifyhostkeydns": "not supported; host keys come from the known_hosts files",
    "revokedhostkeys": "not supported; mark keys @revoked in a known_hosts file",
    "ignoreunknown": "not supported: hafab refuses every option it does not know",
}


class ConfigLineError(ValueError):
    """A value that is not valid for its option (the message says what is expected)."""


def _one(args):
    if len(args) != 1:
        raise ConfigLineError("takes exactly one value" + (f" (got {len(args)})" if args else ""))
    return args[0]


def _flag(args):
    value = _one(args).lower()
    if value in ("yes", "true"):
        return True
    if value in ("no", "false"):
        return False
    raise ConfigLineError(f"{args[0]!r} must be yes or no")


def _plain(args):
    value = _one(args)
    if not value or value.startswith("-") or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise ConfigLineError(f"{value!r} is not a name (no spaces, control characters or leading '-')")
    return value


def _port(args):
    value = _one(args)
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise ConfigLineError(f"{value!r} is not a port number (1 to 65535)")
    return int(value)


def parse_time(text):
    """OpenSSH's time format: `90`, `90s`, `1m30s`, `1h`... in seconds; ConfigLineError otherwise."""
    if not re.fullmatch(r"(?:\d+[smhdwSMHDW]?)+", text):
        raise ConfigLineError(f"{text!r} is not a time (seconds, or e.g. 1m30s)")
    scale = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    return sum(int(n) * scale[unit.lower()] for n, unit in re.findall(r"(\d+)([smhdwSMHDW]?)", text))


def _connect_timeout(args):
    seconds = parse_time(_one(args))
    if not 1 <= seconds <= MAX_CONNECT_TIMEOUT:
        raise ConfigLineError(f"{args[0]!r} must be from 1 to {MAX_CONNECT_TIMEOUT} seconds "
                              "(hafab keeps every connect bounded)")
    return seconds


def _alive_interval(args):
    seconds = parse_time(_one(args))
    if seconds > 86400:
        raise ConfigLineError(f"{args[0]!r} must be from 0 to 86400 seconds")
    return seconds


def _count(args):
    value = _one(args)
    if not value.isdigit() or int(value) > 1000:
        raise ConfigLineError(f"{value!r} must be a whole number from 0 to 1000")
    return int(value)


STRICT_MODES = {"yes": "yes", "true": "yes", "ask": "ask", "accept-new": "accept-new",
                "no": "no", "false": "no", "off": "no"}


def _strict(args):
    value = _one(args).lower()
    if value not in STRICT_MODES:
        raise ConfigLineError(f"{args[0]!r} must be yes, accept-new, no, off or ask")
    return STRICT_MODES[value]


def _files(args):
    if not args:
        raise ConfigLineError("needs at least one file name")
    if len(args) > 1 and "none" in (a.lower() for a in args):
        raise ConfigLineError("none must be the only value")
    for value in args:
        _path([value])
    return [] if args[0].lower() == "none" else list(args)


def _path(args):
    value = _one(args)
    if not value or any(ord(c) < 32 for c in value):
        raise ConfigLineError(f"{value!r} is not a file name")
    return value


def _jumps(args):
    """ProxyJump: none, or [user@]host[:port] hops separated by commas; [(user, host, port), ...]."""
    value = _one(args)
    if value.lower() == "none":
        return []
    hops = []
    for hop in value.split(","):
        match = re.fullmatch(r"(?:([A-Za-z0-9._][A-Za-z0-9._-]*)@)?([A-Za-z0-9._][A-Za-z0-9._-]*)(?::(\d+))?", hop)
        if not match:
            raise ConfigLineError(f"{hop!r} is not [user@]host[:port] (ssh:// URIs and tokens are not supported)")
        hops.append((match.group(1), match.group(2), _port([match.group(3)]) if match.group(3) else None))
    if len(hops) > MAX_JUMPS:
        raise ConfigLineError(f"at most {MAX_JUMPS} jump hosts")
    return hops


def _choice(*allowed):
    def parse(args):
        value = _one(args)
        if value.lower() not in allowed:
            raise ConfigLineError(f"{value!r} must be one of {', '.join(allowed)}")
        return value.lower()
    return parse


def _algorithms(args):
    value = _one(args)
    if value[:1] not in ("+", "^"):
        raise ConfigLineError(f"{value!r}: only a list that adds to the defaults (+...) or reorders them "
                              "(^...) is supported; hafab negotiates the SSH library's own algorithms")
    return value


def _anything(args):
    if not args:
        raise ConfigLineError("needs a value")
    return args


# canonical name -> value reader; for each, the first value obtained wins (IdentityFile adds up)
HONOURED = {
    "HostName": _plain, "User": _plain, "Port": _port, "IdentityFile": _path, "IdentitiesOnly": _flag,
    "UserKnownHostsFile": _files, "GlobalKnownHostsFile": _files, "StrictHostKeyChecking": _strict,
    "HashKnownHosts": _flag, "ConnectTimeout": _connect_timeout, "ServerAliveInterval": _alive_interval,
    "ProxyJump": _jumps,
}
NO_EFFECT = {
    "LogLevel": _choice("quiet", "fatal", "error", "info", "verbose", "debug", "debug1", "debug2", "debug3"),
    "BatchMode": _flag, "PasswordAuthentication": _flag, "KbdInteractiveAuthentication": _flag,
    "ChallengeResponseAuthentication": _flag, "PubkeyAuthentication": _choice("yes", "true", "unbound", "host-bound"),
    "ForwardAgent": _flag, "ForwardX11": _flag, "Compression": _flag, "TCPKeepAlive": _flag,
    "ServerAliveCountMax": _count, "CheckHostIP": _flag, "AddKeysToAgent": _choice("no", "yes", "ask", "confirm"),
    "SendEnv": _anything, "UpdateHostKeys": _choice("no", "yes", "ask"), "HostKeyAlgorithms": _algorithms,
    "PubkeyAcceptedKeyTypes": _algorithms, "PubkeyAcceptedAlgorithms": _algorithms,
}
READERS = {**HONOURED, **NO_EFFECT}
KNOWN = {name.lower(): name for name in READERS}
