"""Issue 13, classes 2 and 3 end to end: `inv provision --check` on a hostile tree exits 2 with one line,
dials no host, runs nothing, and writes nothing outside the tree (inside it, only the secret it must make)."""

import os

import pytest

from tests.e2e.conftest import inv
from tests.e2e.test_bad_input import GOOD_APP, build, listener, ssh_config  # noqa: F401  (listener: a fixture)

CONTENT = "TOP-SECRET-CONTENT-OUTSIDE"
SECRET = os.path.join(".secrets", "stats-password")


def _link_source(tree, outside):
    (tree / "files" / "evil").symlink_to(outside / "shadow")
    (tree / "states" / "app.sls").write_text(GOOD_APP.replace("salt://app.conf", "salt://evil"))


def _link_etc_shadow(tree, outside):
    (tree / "files" / "evil").symlink_to("/etc/shadow")
    (tree / "states" / "app.sls").write_text(GOOD_APP.replace("salt://app.conf", "salt://evil"))


def _link_sls(tree, outside):
    (outside / "app.sls").write_text(GOOD_APP)
    (tree / "states" / "app.sls").unlink()
    (tree / "states" / "app.sls").symlink_to(outside / "app.sls")


def _link_import(tree, outside):
    (outside / "map.jinja").write_text("{% set x = '" + CONTENT + "' %}\n")
    (tree / "states" / "map.jinja").symlink_to(outside / "map.jinja")
    (tree / "states" / "app.sls").write_text("{% from 'map.jinja' import x %}\n" + GOOD_APP)


def _escape(tree, outside):
    marker = outside / "F"
    (tree / "states" / "app.sls").write_text(
        GOOD_APP + "{% set x = cycler.__init__.__globals__.os.popen('id > " + str(marker) + "').read() %}\n")


def _escape_in_template(tree, outside):
    (tree / "files" / "app.conf").write_text(
        "app\n{{ salt['pillar.get'].__globals__['os'].system('touch " + str(outside / "F") + "') }}\n")


def _secret_outside(tree, outside):
    text = (tree / "hosts.yaml").read_text()
    (tree / "hosts.yaml").write_text(text.replace("hosts:\n", "  stats_password_file: ../../somewhere/id_ed25519\n"
                                                              "hosts:\n"))


# (case, make the tree hostile, words of the one line, whether the secret is made first)
HOSTILE = [
    ("salt-source-link", _link_source, ["states/app.sls: app-conf", "salt://evil", "files/evil",
                                        "resolves outside files/"], True),
    ("salt-source-etc-shadow", _link_etc_shadow, ["app-conf", "files/evil resolves outside files/"], True),
    ("sls-link", _link_sls, ["states/app.sls: resolves outside states/"], True),
    ("jinja-import-link", _link_import, ["states/app.sls:1: sandbox: states/map.jinja resolves outside"], True),
    ("issue-cycler-escape", _escape, ["states/app.sls:9: sandbox: attribute '__init__' of type 'type'"], True),
    ("template-escape", _escape_in_template, ["files/app.conf:2: sandbox: attribute '__globals__'",
                                              "(rendering for states/app.sls: app-conf)"], True),
    ("secret-path-outside", _secret_outside, ["hosts.yaml: cluster.stats_password_file: "
                                              "'../../somewhere/id_ed25519' resolves outside"], False),
]


def snapshot(base):
    """Every path under `base` (links not followed): directories as such, files and links with size and mtime."""
    seen = {}
    for dirpath, dirnames, names in os.walk(base):
        for name in dirnames + names:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            is_dir = os.path.isdir(path) and not os.path.islink(path)
            seen[os.path.relpath(path, base)] = "dir" if is_dir else (st.st_size, st.st_mtime_ns)
    return seen


@pytest.mark.parametrize("case,make,words,makes_secret", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_tree_check_exits_2_and_writes_nothing_outside(tmp_path, listener, case, make, words,  # noqa: F811
                                                                makes_secret, monkeypatch):
    port, accepted = listener
    monkeypatch.setenv("HAFAB_CACHE_DIR", str(tmp_path / "cache"))   # --check only reads the template cache
    tree, outside = tmp_path / "a" / "b" / "tree", tmp_path / "outside"
    tree.mkdir(parents=True)
    outside.mkdir()
    (outside / "shadow").write_text(CONTENT + "\n")
    hosts = build(tree, {})
    config = ssh_config(tmp_path, port)
    make(tree, outside)
    before = snapshot(tmp_path)
    result = inv("provision", "--check", "--inventory", str(hosts), "--ssh-config", config)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(lines) == 1 and result.stdout == "", result.stdout + result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert CONTENT not in result.stderr and "uid=" not in result.stderr
    assert accepted == []
    assert not (outside / "F").exists()
    secret = os.path.relpath(tree / SECRET, tmp_path)
    after = snapshot(tmp_path)
    made = {path for path in after if path not in before}
    assert made == ({secret, os.path.dirname(secret)} if makes_secret else set()), made
    assert {path: after[path] for path in before} == before
