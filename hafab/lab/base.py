"""The lab's base root: Debian 12 built once with debootstrap, plus a local apt repository.

Every lab host mounts it read-only as the lower layer of its overlay. It ships without identity
(empty machine-id, no SSH host keys) and its apt sources name only the local `file:` repository
holding the cluster's packages, so `apt-get install` inside a host works offline.
"""

import contextlib
import glob
import hashlib
import os
import shutil
import time

from hafab.engine import boundary
from hafab.engine.errors import HostError
from hafab.lab import aptrepo, sources
from hafab.lab.cache import BuiltOnce
from hafab.lab.run import run, stream

CACHE_DIR = "/var/cache/hafab"
BASE_DIR = os.path.join(CACHE_DIR, "base")
LOCK_PATH = os.path.join(CACHE_DIR, "base.lock")
MARKER = ".hafab-base"  # holds the recipe digest; present only in a complete base
SUITE = "bookworm"
BASE_PACKAGES = ("systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "iproute2",
                 "iputils-ping", "curl", "ca-certificates", "procps")
# What the cluster states install, fetched (with dependencies and recommends) into the local repo.
CLUSTER_PACKAGES = ("haproxy", "keepalived", "apache2", "psmisc", "rsyslog", "nftables", "curl", "socat")
REPO_IN_BASE = "/opt/hafab/apt"  # /opt/hafab/ leaves room for other offline caches (e.g. wheels)
BUILD_TIMEOUT = 1800


def recipe_digest():
    recipe = repr((SUITE, BASE_PACKAGES, CLUSTER_PACKAGES, REPO_IN_BASE, _SSHD_CONF, _JOURNALD_CONF))
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def _cache():
    return BuiltOnce(BASE_DIR, MARKER, LOCK_PATH, recipe_digest())


def is_ready(base_dir=BASE_DIR):
    return _cache().is_ready(base_dir)


def ensure(progress=boundary.say):
    """Return the base dir, building it first when missing or stale (one builder at a time)."""
    started = time.monotonic()
    if _cache().ensure(lambda tmp: _build(tmp, progress)):
        progress(f"lab: base root ready in {time.monotonic() - started:.0f}s")
    return BASE_DIR


def purge(progress=boundary.say):
    """Drop the cached base (refused by the caller while a lab still uses it)."""
    if not os.path.isdir(CACHE_DIR):
        return
    with _cache().locked():
        for path in glob.glob(os.path.join(CACHE_DIR, "base*")):
            if path != LOCK_PATH:
                shutil.rmtree(path, ignore_errors=True)
        progress(f"lab: removed the cached base {BASE_DIR}")


def _build(tmp, progress):
    progress("lab: building the base root (once; a few minutes)")
    mirror = sources.mirror_for(SUITE)
    _debootstrap(tmp, mirror, progress)
    _fetch_cluster_packages(tmp, mirror, progress)
    _configure(tmp)
    _forget_mirror(tmp, mirror)


def _debootstrap(root, mirror, progress):
    progress(f"lab: debootstrap {SUITE} (minbase + {len(BASE_PACKAGES)} packages)")
    stream(["debootstrap", "--variant=minbase", "--include=" + ",".join(BASE_PACKAGES), SUITE, root, mirror],
           _debootstrap_progress(progress), timeout=BUILD_TIMEOUT)


def _debootstrap_progress(progress):
    """Pass on debootstrap's stage lines; count its per-package lines instead of echoing each."""
    per_package = ("I: Retrieving", "I: Validating", "I: Extracting", "I: Unpacking", "I: Configuring")
    seen = {"packages": 0}

    def on_line(line):
        if line.startswith(per_package):
            seen["packages"] += 1
            if seen["packages"] % 100 == 0:
                progress(f"lab: debootstrap: {seen['packages']} package steps done")
        elif line.startswith(("I: ", "W: ", "E: ")):
            progress(f"lab: debootstrap: {line[3:]}")
    return on_line


def _chroot(root, *argv, timeout=900):
    env = ["env", "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C"]
    return run(["chroot", root, *env, *argv], timeout=timeout)


def _fetch_cluster_packages(root, mirror, progress):
    progress(f"lab: fetching {' '.join(CLUSTER_PACKAGES)} and dependencies into the local repository")
    with open(os.path.join(root, "etc/apt/sources.list"), "w") as f:
        f.write(f"deb {mirror} {SUITE} main\n")
    _chroot(root, "apt-get", "update", "-q")
    _chroot(root, "apt-get", "install", "-y", "-q", "--download-only", *CLUSTER_PACKAGES)
    repo = root + REPO_IN_BASE
    os.makedirs(repo, exist_ok=True)
    for deb in glob.glob(os.path.join(root, "var/cache/apt/archives/*.deb")):
        shutil.move(deb, repo)
    count = aptrepo.index(repo)
    if count == 0:
        raise HostError("lab: no package was downloaded into the local repository")
    progress(f"lab: local repository holds {count} packages")


def _configure(root):
    _write(root, "etc/apt/sources.list.d/hafab-local.sources",
           f"Types: deb\nURIs: file:{REPO_IN_BASE}\nSuites: ./\nTrusted: yes\n")
    _write(root, "etc/apt/apt.conf.d/90hafab-offline",
           'Acquire::Languages "none";\nAPT::Install-Recommends "true";\n')
    _write(root, "etc/ssh/sshd_config.d/hafab.conf", _SSHD_CONF)
    _write(root, "etc/systemd/journald.conf.d/hafab.conf", _JOURNALD_CONF)
    _write(root, "etc/resolv.conf", "")
    _write(root, "etc/hostname", "")
    _write(root, "etc/machine-id", "")  # empty: each host gets its own at first start
    for path in ("var/lib/dbus/machine-id", *glob.glob("etc/ssh/ssh_host_*", root_dir=root)):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(root, path))
    for unit in ("apt-daily.timer", "apt-daily-upgrade.timer", "systemd-networkd-wait-online.service"):
        os.symlink("/dev/null", os.path.join(root, "etc/systemd/system", unit))
    os.makedirs(os.path.join(root, "root/.ssh"), mode=0o700, exist_ok=True)


_SSHD_CONF = """# hafab lab: one host key made per host at its first start; keys only.
HostKey /etc/ssh/ssh_host_ed25519_key
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UseDNS no
"""

_JOURNALD_CONF = "[Journal]\nStorage=volatile\nRuntimeMaxUse=16M\n"


def _forget_mirror(root, mirror):
    """Remove every file of the base that names the mirror (apt lists, caches, debootstrap's log)."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(root, "etc/apt/sources.list"))
    for pattern in ("var/lib/apt/lists/*_*", "var/cache/apt/*.bin", "var/log/bootstrap.log",
                    "var/log/apt/*", "debootstrap"):
        for path in glob.glob(os.path.join(root, pattern)):
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    _chroot(root, "apt-get", "update", "-q")  # lists of the local repository only
    host = mirror.split("://", 1)[-1].split("/", 1)[0].encode()
    for top in ("etc", "var", "opt", "root"):
        for path in _files(os.path.join(root, top)):
            with open(path, "rb") as f:
                if host in f.read():
                    raise HostError(f"lab: base file {os.path.relpath(path, root)} still names the mirror")


def _files(top):
    for dirpath, _, names in os.walk(top):
        for name in names:
            path = os.path.join(dirpath, name)
            if os.path.isfile(path) and not os.path.islink(path):
                yield path


def _write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
