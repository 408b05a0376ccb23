"""Learn everything the states of one host need in one round-trip: one sh script, parsed locally.

The script starts few processes (one dpkg-query, one systemctl, one stat, one sha256sum for all states);
file contents travel only for files whose hash differs from what we want (or that we must read).
"""

import secrets
import shlex
from dataclasses import dataclass, field

MAX_CONTENT = 2 * 1024 * 1024


@dataclass
class FileFact:
    exists: bool
    kind: str = ""        # "regular file", "directory", ...
    user: str = ""
    group: str = ""
    mode: str = ""        # "644"
    size: int = 0
    sha256: str = ""
    content: str | None = None   # only when fetched (hash differs or content asked for)


@dataclass
class FactQuery:
    packages: set = field(default_factory=set)
    units: set = field(default_factory=set)
    files: dict = field(default_factory=dict)      # path -> wanted sha256, or None to always read content
    stats: set = field(default_factory=set)        # paths whose metadata only is needed
    sysctls: set = field(default_factory=set)
    commands: dict = field(default_factory=dict)   # shell command -> None (rc wanted)
    exists: set = field(default_factory=set)

    def want_file(self, path, sha256=None):
        """Metadata and hash of `path`; its content when its hash differs from `sha256` (always if None)."""
        if path in self.files and self.files[path] != sha256:
            sha256 = None
        self.files[path] = sha256

    def merge(self, other):
        self.packages |= other.packages
        self.units |= other.units
        for path, sha in other.files.items():
            self.want_file(path, sha)
        self.stats |= other.stats
        self.sysctls |= other.sysctls
        self.commands.update(other.commands)
        self.exists |= other.exists


@dataclass
class Facts:
    systemd: bool = True
    apt_lists: bool = True
    packages: dict = field(default_factory=dict)   # name -> installed version, or None
    units: dict = field(default_factory=dict)      # name -> {"load", "active", "enabled"}
    files: dict = field(default_factory=dict)      # path -> FileFact
    sysctls: dict = field(default_factory=dict)    # key -> value or None
    commands: dict = field(default_factory=dict)   # command -> exit status
    exists: dict = field(default_factory=dict)     # path -> bool
    # function -> what an aggregated apply of that function did earlier in this run (Salt's mod_aggregate);
    # kept across re-reads of the facts, so later states of the batch see it
    aggregated: dict = field(default_factory=dict)


def script(query):
    """The sh script that gathers `query`, and the marker token its output sections start with."""
    token = "@@hafab-" + secrets.token_hex(6)
    mark = f"printf '\\n{token} %s %s\\n'"
    q = shlex.quote
    lines = ["exec 2>/dev/null", f"{mark} init -",
             "[ -d /run/systemd/system ] && echo systemd || echo sysv",
             "set -- /var/lib/apt/lists/*_Packages*; [ -e \"$1\" ] && echo apt-lists"]
    if query.packages:
        names = " ".join(q(p) for p in sorted(query.packages))
        lines += [f"{mark} pkg -",
                  f"dpkg-query -W -f='${{Package}}\\t${{db:Status-Abbrev}}\\t${{Version}}\\n' -- {names}"]
    if query.units:
        units = sorted(query.units)
        lines += [f"{mark} units -", "if [ -d /run/systemd/system ]; then",
                  "systemctl show -p Id -p LoadState -p ActiveState -p UnitFileState -- "
                  + " ".join(q(_unit(u)) for u in units), "else"]
        for unit in units:
            lines.append(f"service {q(unit)} status >/dev/null 2>&1 && s=active || s=inactive; "
                         f"set -- /etc/rc[2-5].d/S*{q(unit)}; [ -e \"$1\" ] && e=enabled || e=disabled; "
                         f"printf 'Id=%s\\nLoadState=loaded\\nActiveState=%s\\nUnitFileState=%s\\n\\n' {q(_unit(unit))} $s $e")
        lines.append("fi")
    paths = sorted(set(query.files) | query.stats)
    if paths:
        quoted = " ".join(q(p) for p in paths)
        lines += [f"{mark} stat -", f"stat -L --printf='%n\\t%F\\t%U\\t%G\\t%a\\t%s\\n' -- {quoted}"]
    if query.files:
        lines.append("sha256sum -- " + " ".join(q(p) for p in sorted(query.files))
                     + " | while read -r h p; do " + f"{mark} sha \"$p\"; echo \"$h\"; case \"$p\" in")
        for path, want in sorted(query.files.items()):
            test = f'[ "$h" = {q(want)} ] || ' if want else ""
            lines.append(f"  {q(path)}) {test}{{ {mark} content \"$p\"; head -c {MAX_CONTENT} -- \"$p\"; }};;")
        lines.append("esac; done")
    if query.sysctls:
        # One grep for all keys (dash's `read` gets nothing from /proc/sys files).
        procs = " ".join(q("/proc/sys/" + key.replace(".", "/")) for key in sorted(query.sysctls))
        lines += [f"{mark} sysctl -", f"grep -H -e '' -- {procs}"]
    for command in query.commands:
        lines += [f"{mark} cmd -", f"printf '%s\\n' {q(command)}",
                  f"(sh -c {q(command)}) </dev/null >/dev/null 2>&1; echo $?"]
    for path in sorted(query.exists):
        lines += [f"{mark} exists {q(path)}", f"[ -e {q(path)} ] && echo 1 || echo 0"]
    lines.append(f"{mark} end -")
    return "\n".join(lines) + "\n", token


def end_marker(token):
    """The text that ends the script's output (its last section header)."""
    return f"\n{token} end -\n"


def _unit(name):
    return name if "." in name else name + ".service"


def parse(output, token, query):
    """Facts from the script's output."""
    facts = Facts()
    for header, body in sections(output, token):
        kind, _, arg = header.partition(" ")
        _PARSERS[kind](facts, arg, body)
    for name in query.packages:
        facts.packages.setdefault(name, None)
    for path in set(query.files) | query.stats:
        facts.files.setdefault(path, FileFact(exists=False))
    for key in query.sysctls:
        facts.sysctls.setdefault(key, None)
    return facts


def sections(output, token):
    """(header, body) per section of a marked script's output: a section starts with a line
    'TOKEN header' (at the start of the output or after a newline); a body is exactly what was printed
    between two markers. What comes before the first marker is ignored."""
    for chunk in ("\n" + output).split("\n" + token + " ")[1:]:
        header, _, body = chunk.partition("\n")
        yield header, body


def _parse_init(facts, _arg, body):
    words = body.split()
    facts.systemd = "systemd" in words
    facts.apt_lists = "apt-lists" in words


def _parse_pkg(facts, _arg, body):
    for line in body.splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            name, status, version = parts
            facts.packages[name.split(":")[0]] = version if status.startswith("ii") else None


def _parse_units(facts, _arg, body):
    unit = {}
    for line in body.splitlines() + [""]:
        if not line.strip():
            if unit.get("Id"):
                name = unit["Id"]
                entry = {"load": unit.get("LoadState", ""), "active": unit.get("ActiveState", ""),
                         "enabled": unit.get("UnitFileState", "")}
                facts.units[name] = entry
                if name.endswith(".service"):
                    facts.units[name[: -len(".service")]] = entry
            unit = {}
            continue
        key, _, value = line.partition("=")
        unit[key] = value


def _parse_stat(facts, _arg, body):
    for line in body.splitlines():
        parts = line.split("\t")
        if len(parts) == 6:
            path, kind, user, group, mode, size = parts
            facts.files[path] = FileFact(True, kind, user, group, mode, int(size))


def _parse_sha(facts, path, body):
    if path in facts.files:
        facts.files[path].sha256 = body.strip()


def _parse_content(facts, path, body):
    if path in facts.files:
        facts.files[path].content = body


def _parse_sysctl(facts, _arg, body):
    for line in body.splitlines():
        path, sep, value = line.partition(":")
        if sep and path.startswith("/proc/sys/"):
            key = path[len("/proc/sys/"):].replace("/", ".")
            facts.sysctls[key] = " ".join(value.split())


def _parse_cmd(facts, _arg, body):
    lines = body.strip("\n").split("\n")
    command, status = "\n".join(lines[:-1]), lines[-1]
    facts.commands[command] = int(status) if status.strip().isdigit() else 127


def _parse_exists(facts, path, body):
    facts.exists[path] = body.strip() == "1"


_PARSERS = {"init": _parse_init, "pkg": _parse_pkg, "units": _parse_units, "stat": _parse_stat,
            "sha": _parse_sha, "content": _parse_content, "sysctl": _parse_sysctl, "cmd": _parse_cmd,
            "exists": _parse_exists, "end": lambda *a: None}
