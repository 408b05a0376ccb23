"""`inv salt.export`: the state tree and each host's pillar, laid out as a Salt master (or salt-ssh, or
`salt-call --local`) expects them, so the same cluster can be built by Salt itself.

    OUT/file_root/        states/*.sls and files/* merged: SLS `haproxy` is haproxy.sls, and
                          `salt://haproxy/haproxy.cfg` is file_root/haproxy/haproxy.cfg (file_roots)
    OUT/pillar/top.sls    each host (minion id = its name in hosts.yaml) gets pillar SLS `hosts.<name>`
    OUT/pillar/hosts/<name>.sls   exactly the pillar hafab renders that host with (stats password included)
    OUT/roster            salt-ssh roster: every host, its address, user root
    OUT/master, OUT/minion   configs naming this export's file_root and pillar (absolute paths)
    OUT/README.md

The pillar holds the HAProxy stats password: OUT is made 0700 and every file in it 0600 (directories 0700).
Nothing is written before the whole tree has rendered and compiled for every host (bad input: exit 2).
"""

import os
import re
import shutil
import stat
import tempfile

import yaml

from hafab.cluster import minions
from hafab.engine import paths, readfile, top
from hafab.engine.errors import InputError

MARKER = ".hafab-salt-export"
DEFAULT_OUT = "out/salt"
# The grains hafab's render context has that mean the same under Salt (minion id = host name).
PORTABLE_GRAINS = ("id", "host")
_GRAIN_USE = [re.compile(p) for p in (
    r"grains\s*\[\s*['\"]([^'\"]+)['\"]",
    r"grains\.get\(\s*['\"]([^'\"]+)['\"]",
    r"grains\.(?!get\b|items\b|keys\b|values\b)(\w+)",
    r"['\"]grains\.get['\"]\s*\]\s*\(\s*['\"]([^'\"]+)['\"]",
)]


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(tuple, lambda d, v: d.represent_list(list(v)))


def _yaml(data):
    return yaml.dump(data, Dumper=_Dumper, default_flow_style=False, sort_keys=False, allow_unicode=True)


def host_pillar(inventory, host):
    """The pillar hafab renders `host`'s states with (cluster keys, host keys and vars, hosts, stats_password)."""
    return minions.pillar(inventory, host)


def check_grains(root):
    """Refuse templates that read grains which differ under Salt (roles, ipv4...): read pillar instead."""
    for _, _, path in tree_files(root):
        data = readfile.read_bytes(path, os.path.relpath(path, root))  # bounded; a FIFO or device: exit 2
        try:
            lines = data.decode("utf-8").splitlines()
        except UnicodeDecodeError:  # a binary file under files/ reads no grains
            continue
        for number, line in enumerate(lines, 1):
            for pattern in _GRAIN_USE:
                for grain in pattern.findall(line):
                    key = grain.split(":")[0]
                    if key not in PORTABLE_GRAINS:
                        raise InputError(
                            f"{os.path.relpath(path, root)}:{number}",
                            f"grains[{key!r}] is hafab's own, Salt's minion has another value (or none): "
                            f"use pillar (e.g. pillar['roles'], pillar['address']) for a tree Salt can run")


def tree_files(root):
    """(tree, path relative to it, absolute path) of every file of states/ and files/, sorted per folder.

    Refused, naming the path (exit 2): an entry that resolves outside its folder (a symbolic link: its
    target is never read nor copied), a directory link that loops, anything but a regular file."""
    for tree in ("states", "files"):
        base = os.path.join(root, tree)
        chains = {}  # directory walked -> the resolved directories above it and itself (link loops)
        for dirpath, dirnames, names in os.walk(base, followlinks=True):
            chain = chains.pop(dirpath, {os.path.realpath(dirpath)})
            kept = []
            for name in sorted(d for d in dirnames if d != "__pycache__"):
                path = paths.require_inside(os.path.join(dirpath, name), base, root)
                real = os.path.realpath(path)
                if real in chain:
                    raise InputError(os.path.relpath(path, root), "is a link to a directory that contains it "
                                                                  "(a loop): refusing to export it")
                chains[path] = chain | {real}
                kept.append(name)
            dirnames[:] = kept
            for name in sorted(names):
                path = paths.require_inside(os.path.join(dirpath, name), base, root)
                if not os.path.isfile(path):
                    raise InputError(os.path.relpath(path, root), "is not a regular file (a device, a pipe or "
                                                                  "a dangling link): refusing to export it")
                yield tree, os.path.relpath(path, base), path


def check_top(root):
    """hafab's `match: grain` reads roles from hosts.yaml; Salt minions have no roles grain, so under Salt
    such a target would match nothing: refuse it (the seed's top file uses `match: pillar`)."""
    for target in top.load(root):
        if target.match == "grain":
            raise InputError(top.TOP, f"target {target.expr!r}: match: grain means hosts.yaml's roles to hafab but "
                                      "a grain Salt's minions do not have: use match: pillar")


def _merged_tree(root):
    """[(relative path in the file root, absolute source path)] of states/ and files/; a clash is bad input."""
    entries = {}
    for tree, rel, path in tree_files(root):
        if rel in entries:
            raise InputError(f"{tree}/{rel}", f"also in {entries[rel][0]}/: Salt has one file root, "
                                             "a path cannot be in both states/ and files/")
        entries[rel] = (tree, path)
    return [(rel, path) for rel, (_, path) in entries.items()]


def _check_out(out, root):
    out = os.path.abspath(out)
    for tree in ("states", "files"):
        inside = os.path.join(root, tree)
        if out == inside or out.startswith(inside + os.sep) or inside.startswith(out + os.sep) or out == root:
            raise InputError("--out", f"{out}: must not be the repository or contain or lie in {tree}/")
    if os.path.exists(out):
        if not os.path.isdir(out):
            raise InputError("--out", f"{out} exists and is not a directory")
        if os.listdir(out) and not os.path.exists(os.path.join(out, MARKER)):
            raise InputError("--out", f"{out} is not empty and not an earlier export (no {MARKER}): "
                                      "refusing to write into it")
    return out


def export(inventory, out=DEFAULT_OUT, progress=print):
    """Write the export to `out` (relative to the current directory); return its absolute path."""
    root = inventory.root
    out = _check_out(out, root)
    minions.compile_hosts(inventory)  # every host's states render and compile, as `inv provision` would
    check_grains(root)
    check_top(root)
    files = _merged_tree(root)
    pillars = {name: host_pillar(inventory, host) for name, host in inventory.hosts.items()}

    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    old_umask = os.umask(0o077)
    try:
        tmp = tempfile.mkdtemp(prefix=".salt-export-", dir=parent)  # 0700
        try:
            _write_tree(tmp, out, files, pillars, inventory)
            _lock_down(tmp)
            if os.path.exists(out):
                shutil.rmtree(out)
            os.rename(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        os.umask(old_umask)
    progress(f"salt export: {len(files)} files in file_root/, pillar for {len(pillars)} hosts: {out} "
             "(0700: the pillar holds the stats password)")
    return out


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def _write_tree(tmp, out, files, pillars, inventory):
    for rel, src in files:
        dest = os.path.join(tmp, "file_root", rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(src, dest)
    pillar_top = {"base": {name: [f"hosts.{name}"] for name in pillars}}
    _write(os.path.join(tmp, "pillar", "top.sls"),
           "# Made by `inv salt.export` from hosts.yaml: each minion (id = host name) gets its own pillar.\n"
           + _yaml(pillar_top))
    for name, pillar in pillars.items():
        # `#!yaml`: plain YAML, not Jinja first (the stats password may contain `{{`).
        _write(os.path.join(tmp, "pillar", "hosts", f"{name}.sls"),
               "#!yaml\n# Made by `inv salt.export`: the pillar hafab renders this host's states with.\n"
               "# Holds the HAProxy stats password: keep this file 0600.\n" + _yaml(pillar))
    roster = {name: {"host": host.address, "user": "root"} for name, host in inventory.hosts.items()}
    _write(os.path.join(tmp, "roster"), "# salt-ssh roster made by `inv salt.export` (one entry per host).\n"
           + _yaml(roster))
    roots = {"file_roots": {"base": [os.path.join(out, "file_root")]},
             "pillar_roots": {"base": [os.path.join(out, "pillar")]}}
    _write(os.path.join(tmp, "master"), "# Salt master / salt-ssh configuration made by `inv salt.export`.\n"
           + _yaml(roots))
    _write(os.path.join(tmp, "minion"), "# Masterless minion (salt-call --local -c DIR) made by `inv salt.export`.\n"
           + _yaml({"file_client": "local", **roots}))
    _write(os.path.join(tmp, "README.md"), README.format(out=out, example=next(iter(pillars))))
    _write(os.path.join(tmp, MARKER), "")


def _lock_down(top):
    """Directories 0700, files 0600: the pillar holds a secret, and so may any file next to it."""
    for dirpath, dirnames, names in os.walk(top):
        os.chmod(dirpath, 0o700)
        for name in names:
            os.chmod(os.path.join(dirpath, name), stat.S_IRUSR | stat.S_IWUSR)


README = """\
# hafab's states as a Salt tree

Made by `inv salt.export`; made again (replaced whole) by the next run. Salt 3008 applies it with the
same outcome as `inv provision` (hafab's interop test checks this on the lab).

**This directory holds a secret**: `pillar/hosts/*.sls` carry the HAProxy stats password. It is
written 0700 (files 0600); keep it so, and copy it only to where root alone can read it.

- `file_root/`: `states/` and `files/` merged; the base environment's `file_roots`.
  `salt://haproxy/haproxy.cfg` is `file_root/haproxy/haproxy.cfg`, the top file is `file_root/top.sls`.
- `pillar/`: `pillar_roots` of the base environment; `top.sls` gives each minion its own
  `pillar/hosts/<name>.sls`, exactly the pillar hafab renders that host with.
- Minion ids must be the host names of `hosts.yaml` (templates read `grains['id']`; the top file
  matches roles with `match: pillar`).
- `master`, `minion`: configurations naming this directory's absolute path: {out}
  (move the directory, then fix the two paths in them).

## One host, masterless

Copy this directory to the host (e.g. to /srv/hafab, mode 0700), then as root:

    salt-call --local --id {example} --file-root /srv/hafab/file_root --pillar-root /srv/hafab/pillar \\
        state.apply --retcode-passthrough

## A Salt master

Add to the master's configuration (or copy `master` to /etc/salt/master.d/hafab.conf):

    file_roots:
      base: [{out}/file_root]
    pillar_roots:
      base: [{out}/pillar]

then accept the minions (ids = host names) and run `salt '*' state.apply`.

## salt-ssh

    salt-ssh -c {out} --roster-file {out}/roster '*' state.apply

(`roster` lists every host with its address and user root; give salt-ssh the key with `--priv`.)
"""


def check_export(path, inventory):
    """The absolute path of an export of this inventory (`inv salt.export`), kept private; InputError
    naming the path otherwise: not a directory, not an export (no marker), a host without its pillar,
    the directory or a pillar file readable by others than its owner."""
    out = os.path.abspath(path)
    if not os.path.isdir(out):
        raise InputError("--export", f"{out} is not a directory (run `inv salt.export` first)")
    if not os.path.isfile(os.path.join(out, MARKER)):
        raise InputError("--export", f"{out} is not an export of `inv salt.export` (no {MARKER})")
    for rel in ("file_root/top.sls", "pillar/top.sls", *(f"pillar/hosts/{n}.sls" for n in inventory.hosts)):
        if not os.path.isfile(os.path.join(out, rel)):
            raise InputError("--export", f"{out}: {rel} is missing (export again: `inv salt.export`)")
    for rel in ("", "pillar", *(f"pillar/hosts/{n}.sls" for n in inventory.hosts)):
        mode = os.stat(os.path.join(out, rel)).st_mode
        if mode & 0o077:
            raise InputError("--export", f"{os.path.join(out, rel)} is mode {stat.S_IMODE(mode):04o}: the pillar "
                                         "holds the stats password, keep it 0700 (files 0600)")
    return out
