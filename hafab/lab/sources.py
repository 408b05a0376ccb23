"""Find the Debian mirror this machine's apt already uses, at run time.

The mirror is never written into the repository: it is read from /etc/apt on every base build, from
deb822 `*.sources` files and one-line `*.list` files, skipping anything disabled.
"""

import glob
import os

from hafab.engine.errors import InputError

APT_DIR = "/etc/apt"


def mirror_for(suite="bookworm", apt_dir=APT_DIR):
    """URI of the first enabled `deb` source carrying `suite` with component main."""
    for uri, suites, components in _entries(apt_dir):
        if suite in suites and "main" in components:
            return uri.rstrip("/")
    raise InputError(f"{apt_dir}/sources.list.d",
                     f"no enabled apt source for Debian {suite} main: cannot build the lab's base")


def _entries(apt_dir):
    """(uri, suites, components) of every enabled `deb` entry, in apt's file order."""
    one_line = os.path.join(apt_dir, "sources.list")
    if os.path.isfile(one_line):
        yield from _list_entries(one_line)
    for path in sorted(glob.glob(os.path.join(apt_dir, "sources.list.d", "*"))):
        if ".disabled" in os.path.basename(path):
            continue
        if path.endswith(".list"):
            yield from _list_entries(path)
        elif path.endswith(".sources"):
            yield from _deb822_entries(path)


def _list_entries(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            words = line.split("#", 1)[0].split()
            if len(words) >= 3 and words[0] == "deb":
                if words[1].startswith("["):  # options: [arch=amd64 signed-by=...]
                    while words and not words[0].endswith("]"):
                        words.pop(0)
                    words = ["deb"] + words[1:]
                if len(words) >= 3:
                    yield words[1], [words[2]], words[3:]


def _deb822_entries(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    for stanza in text.split("\n\n"):
        fields = _deb822_fields(stanza)
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            yield uri, fields.get("suites", "").split(), fields.get("components", "").split()


def _deb822_fields(stanza):
    fields, key = {}, None
    for line in stanza.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line[0] in " \t" and key:
            fields[key] += " " + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            fields[key] = value.strip()
    return fields
