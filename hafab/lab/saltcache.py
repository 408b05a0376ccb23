"""An offline wheel cache of Salt for the lab hosts (Debian 12: CPython 3.11, x86_64, glibc 2.36).

Built once on this machine with pip (`pip wheel salt==3008.4 pip`: pip downloads the wheels that exist
and builds the ones published only as source, e.g. salt itself), kept outside the repository in
/var/cache/hafab/wheels/salt-3008.4, and copied into a lab host, which has no network:

    python3 -m venv --without-pip /opt/salt
    /opt/salt/bin/python3 CACHE/pip-*.whl/pip install --no-index --find-links CACHE pip salt==3008.4

(`install-salt.sh` in the cache does exactly that.) `--without-pip` because Debian's python3 lacks
ensurepip unless python3-venv is installed, and the lab's base does not carry it; pip comes from the
cache instead, so /opt/salt/bin/pip exists afterwards all the same.

3008.5 does not install here (a certifi pin), hence 3008.4.
"""

import glob
import hashlib
import os
import re
import subprocess
import sys
import time

from hafab.engine import boundary
from hafab.engine.errors import HostError
from hafab.lab.cache import BuiltOnce
from hafab.lab.run import stream

SALT_VERSION = "3008.4"
WHEELS_ROOT = "/var/cache/hafab/wheels"
CACHE_DIR = os.path.join(WHEELS_ROOT, f"salt-{SALT_VERSION}")
LOCK_PATH = os.path.join(WHEELS_ROOT, ".lock")
MARKER = ".hafab-wheels"       # holds the recipe digest; present only in a complete cache
IN_HOST = "/opt/hafab/wheels"  # where the cache goes inside a lab host
VENV = "/opt/salt"
REQUIREMENTS = (f"salt=={SALT_VERSION}", "pip")
GLIBC_MAX = (2, 36)            # Debian 12
BUILD_TIMEOUT = 1800

INSTALL_SCRIPT = f"""#!/bin/sh
# Install Salt {SALT_VERSION} into {VENV} from this directory only (no network, no package index).
set -e
here=$(cd "$(dirname "$0")" && pwd)
if [ -x {VENV}/bin/salt-call ] && {VENV}/bin/salt-call --version 2>/dev/null | grep -q ' {SALT_VERSION}'; then
    exit 0
fi
python3 -m venv --without-pip {VENV}
pip_wheel=$(ls "$here"/pip-*.whl | head -n 1)
{VENV}/bin/python3 "$pip_wheel/pip" install --quiet --no-index --no-cache-dir --disable-pip-version-check \\
    --find-links "$here" pip salt=={SALT_VERSION}
{VENV}/bin/salt-call --version
"""


def recipe_digest():
    return hashlib.sha256(repr((REQUIREMENTS, GLIBC_MAX, INSTALL_SCRIPT)).encode()).hexdigest()[:16]


def _cache():
    return BuiltOnce(CACHE_DIR, MARKER, LOCK_PATH, recipe_digest())


def is_ready(cache_dir=CACHE_DIR):
    return _cache().is_ready(cache_dir)


def ensure(progress=boundary.say):
    """The cache directory, built first when missing or stale (one builder at a time)."""
    started = time.monotonic()
    try:
        if _cache().ensure(lambda tmp: _build(tmp, progress)):
            progress(f"salt cache: ready in {time.monotonic() - started:.0f}s: {CACHE_DIR}")
    except HostError as exc:
        raise HostError(_scrub(str(exc))) from None
    return CACHE_DIR


def _build(tmp, progress):
    progress(f"salt cache: building wheels of salt {SALT_VERSION} and its dependencies (once)")
    argv = [sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--progress-bar", "off",
            "--wheel-dir", tmp, *REQUIREMENTS]
    stream(argv, _pip_progress(progress), timeout=BUILD_TIMEOUT)
    wheels = sorted(os.path.basename(p) for p in glob.glob(os.path.join(tmp, "*.whl")))
    check_wheels(wheels)
    script = os.path.join(tmp, "install-salt.sh")
    with open(script, "w") as f:
        f.write(INSTALL_SCRIPT)
    os.chmod(script, 0o755)
    progress(f"salt cache: {len(wheels)} wheels")


_URL_RE = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.I)


def _scrub(text):
    """pip's lines name index URLs; progress and errors carry no host names."""
    return _URL_RE.sub("<url>", text)


def _pip_progress(progress):
    seen = {"collected": 0}

    def on_line(line):
        line = line.strip()
        if line.startswith("Collecting "):
            seen["collected"] += 1
            if seen["collected"] % 20 == 0:
                progress(f"salt cache: {seen['collected']} distributions resolved")
        elif line.startswith(("Building wheel for", "Successfully built", "ERROR:")):
            progress("salt cache: pip: " + _scrub(line))
    return on_line


_WHEEL_RE = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$")


def wheel_fits(filename):
    """True when a wheel installs on the lab hosts' CPython 3.11, x86_64, glibc <= 2.36."""
    m = _WHEEL_RE.match(filename)
    if not m:
        return False
    pys, abis, plats = (set(m.group(k).split(".")) for k in ("py", "abi", "plat"))
    abi3_ok = "abi3" in abis and any(re.fullmatch(r"cp3(\d+)", p) and int(p[3:]) <= 11 for p in pys)
    if not pys & {"py3", "cp311", "py311"} and not abi3_ok:
        return False
    if not abis & {"none", "abi3", "cp311"}:
        return False
    for plat in plats:
        if plat == "any" or plat == "linux_x86_64":
            return True
        if plat in ("manylinux1_x86_64", "manylinux2010_x86_64", "manylinux2014_x86_64"):
            return True
        m2 = re.match(r"^manylinux_(\d+)_(\d+)_x86_64$", plat)
        if m2 and (int(m2.group(1)), int(m2.group(2))) <= GLIBC_MAX:
            return True
    return False


def check_wheels(wheels):
    names = {w.split("-", 1)[0].lower() for w in wheels}
    for wanted in ("salt", "pip"):
        if wanted not in names:
            raise HostError(f"salt cache: pip produced no {wanted} wheel")
    if not any(w.startswith(f"salt-{SALT_VERSION}-") for w in wheels):
        raise HostError(f"salt cache: no wheel of salt {SALT_VERSION}")
    misfits = [w for w in wheels if not wheel_fits(w)]
    if misfits:
        raise HostError(f"salt cache: wheels that would not install on Debian 12's python3: {', '.join(misfits)}")


def copy_to_host(ssh_argv, cache_dir=None, timeout=300):
    """Copy the cache into a lab host (IN_HOST) through `ssh_argv` (a list ending with the host name).

    The caller has already checked the route goes through the lab bridge.
    """
    cache_dir = cache_dir or ensure(progress=boundary.say)
    tar = subprocess.Popen(["tar", "-C", cache_dir, "-cf", "-", "."], stdout=subprocess.PIPE,
                           stdin=subprocess.DEVNULL)
    try:
        done = subprocess.run([*ssh_argv, f"rm -rf {IN_HOST} && mkdir -p {IN_HOST} && tar -C {IN_HOST} -xf -"],
                              stdin=tar.stdout, capture_output=True, text=True, timeout=timeout)
    finally:
        tar.stdout.close()
        tar.wait(timeout=60)
    if done.returncode != 0 or tar.returncode != 0:
        raise HostError(f"salt cache: copying into the host failed: {done.stderr.strip()[-300:]}")


def install_command():
    """The shell command that installs Salt on a host that holds the cache at IN_HOST."""
    return f"sh {IN_HOST}/install-salt.sh"
