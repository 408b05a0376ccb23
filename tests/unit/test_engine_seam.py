"""The seam: hafab/engine/ (its states/ included) knows nothing of the cluster built on it.

It imports nothing of hafab but itself, and no name, string or comment in it names a role, a
unit, the VIP, an HAProxy backend or socket, or keepalived's state file. The forbidden words come from
the cluster's own vocabulary (hafab/cluster/roles, haproxy, keepalived), so a new role or unit there is
forbidden here at once.
"""

import io
import os
import re
import tokenize

import pytest

from hafab.cluster import haproxy, keepalived, roles

HAFAB = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "hafab")
GENERIC = ("engine",)   # hafab/engine/states/ is part of the engine


def vocabulary():
    words = set(roles.ORDER) | {u for units in roles.UNITS.values() for u in units}
    words |= {haproxy.BACKEND, haproxy.ADMIN_SOCKET, keepalived.STATE_FILE, "vip", "vrrp", "apache", "haproxy",
              "keepalived", "hosts.yaml", "stats_password", "inventory", "rollout"}
    return sorted(words)


def _pattern(words):
    return re.compile(r"(?<![A-Za-z0-9])(" + "|".join(re.escape(w) for w in words) + r")(?![A-Za-z0-9])",
                      re.IGNORECASE)


def leaks(source):
    """[(line, what)] of every cluster word and every import of hafab outside engine/."""
    found = []
    words = _pattern(vocabulary())
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for index, tok in enumerate(tokens):
        if tok.type in (tokenize.NAME, tokenize.STRING, tokenize.COMMENT):
            text = tok.string.replace("_", " ") if tok.type == tokenize.NAME else tok.string
            for match in words.finditer(text):
                found.append((tok.start[0], f"names {match.group(1)!r}"))
        if tok.type == tokenize.NAME and tok.string in ("import", "from"):
            line = tok.line.strip()
            module = re.match(r"(?:from|import)\s+([\w.]+)", line)
            if module and module.group(1).startswith("hafab"):
                parts = module.group(1).split(".")
                imported = parts[1] if len(parts) > 1 else _from_hafab(line)
                if imported not in GENERIC:
                    found.append((tok.start[0], f"imports hafab.{imported}"))
    return found


def _from_hafab(line):
    """`from hafab import x`: the x."""
    match = re.match(r"from\s+hafab\s+import\s+(\w+)", line)
    return match.group(1) if match else "hafab"


def generic_files():
    for place in GENERIC:
        for directory, _, files in os.walk(os.path.join(HAFAB, place)):
            for name in sorted(files):
                if name.endswith(".py"):
                    yield os.path.join(directory, name)


@pytest.mark.parametrize("path", list(generic_files()), ids=lambda p: os.path.relpath(p, HAFAB))
def test_generic_module_names_nothing_of_the_cluster(path):
    with open(path, encoding="utf-8") as fh:
        found = leaks(fh.read())
    assert not found, "; ".join(f"{os.path.relpath(path, HAFAB)}:{line} {what}" for line, what in found)


@pytest.mark.parametrize("snippet, what", [
    ('if "lb" in host.roles:\n    pass\n', "names 'lb'"),
    ("WEB_UNIT = 'apache2'\n", "names 'apache2'"),
    ("def holds_vip(out):\n    return True\n", "names 'vip'"),
    ("# the rollout decides\n", "names 'rollout'"),
    ('cmd = "echo show stat | socat stdio /run/haproxy/admin.sock"\n', "names '/run/haproxy/admin.sock'"),
    ("from hafab.cluster import roles\n", "imports hafab.cluster"),
    ("from hafab import lab\n", "imports hafab.lab"),
    ("import hafab.verify.checks\n", "imports hafab.verify"),
])
def test_the_check_finds_a_leak(snippet, what):
    assert what in [w for _, w in leaks(snippet)]


@pytest.mark.parametrize("snippet", [
    "from hafab.engine import facts\n",
    "from hafab.engine.states.base import Plan\n",
    "webserver_count = 1  # 'weblike' words are not the role\n",
])
def test_generic_code_passes(snippet):
    assert leaks(snippet) == []
