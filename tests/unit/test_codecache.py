"""The on-disk cache of compiled templates (hafab.engine.codecache): a hit is the same render without a
compile, any changed input compiles again, the secret is never in it, an unsafe directory or a bad
entry only means no cache, and a run that may not write locally (--check) only reads it."""

import os

import jinja2
import pytest

from hafab.engine import boundary, codecache, render
from hafab.engine.errors import InputError

SECRET = "Cache-Test-Secret-0123456789abcdef"


@pytest.fixture(autouse=True)
def fresh_process():
    """Each test starts as a new process would: nothing compiled in memory, the cache only read."""
    yield
    render.cache_writes(False)
    render._environments.clear()
    render._templates.clear()
    render._code_caches.clear()


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A cache directory that this (real, writing) run fills."""
    directory = tmp_path / "cache" / "templates"
    monkeypatch.setenv("HAFAB_CACHE_DIR", str(directory))
    render.cache_writes(True)
    return directory


@pytest.fixture
def compiles(monkeypatch):
    """How many times Jinja compiled a template from source."""
    count = []
    real = jinja2.Environment.compile

    def counting(self, *args, **kwargs):
        count.append(args[0] if args else kwargs.get("source"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    return count


def new_root(tmp_path, name):
    root = tmp_path / name
    (root / "states").mkdir(parents=True)
    (root / "files").mkdir()
    return str(root)


def entries(directory):
    return sorted(name for name in os.listdir(directory) if not name.startswith("."))


def test_second_run_renders_the_same_without_compiling(tmp_path, cache_dir, compiles):
    source = "hello {{ name }}{% for i in range(2) %} {{ i }}{% endfor %}\n"
    first = render.render_string(new_root(tmp_path, "a"), source, "files/t.j2", {"name": "x"}, cached=True)
    assert len(compiles) == 1 and len(entries(cache_dir)) == 1
    again = render.render_string(new_root(tmp_path, "b"), source, "files/t.j2", {"name": "x"}, cached=True)
    assert again == first == "hello x 0 1\n"
    assert len(compiles) == 1   # the second process-like render came from the disk


@pytest.mark.parametrize("change", ["source", "filename", "version"])
def test_a_changed_input_compiles_again(tmp_path, cache_dir, compiles, monkeypatch, change):
    source, filename = "v={{ v }}\n", "files/t.j2"
    render.render_string(new_root(tmp_path, "a"), source, filename, {"v": 1}, cached=True)
    if change == "source":
        source = "w={{ v }}\n"
    elif change == "filename":
        filename = "files/u.j2"
    else:
        monkeypatch.setattr(codecache, "version_tag", lambda: "another hafab or jinja or python")
        render._code_caches.clear()
    out = render.render_string(new_root(tmp_path, "b"), source, filename, {"v": 1}, cached=True)
    assert out == source.replace("{{ v }}", "1")
    assert len(compiles) == 2 and len(entries(cache_dir)) == 2


def test_rendered_text_and_pillar_values_are_never_stored(tmp_path, cache_dir):
    boundary.register(SECRET)
    root = new_root(tmp_path, "a")
    render.render_string(root, "password {{ pillar.pw }}\n", "files/p.j2", {"pillar": {"pw": SECRET}}, cached=True)
    render.render_string(root, f"literal {SECRET}\n", "files/q.j2", {}, cached=True)   # not cached: holds it
    render.render_string(root, f"inline {SECRET} {{{{ 1 }}}}\n", "<inline>", {})        # inline: never cached
    assert len(entries(cache_dir)) == 1
    for name in os.listdir(cache_dir):
        data = (cache_dir / name).read_bytes()
        assert SECRET.encode() not in data and SECRET.encode("utf-16-le") not in data


def test_directory_is_created_private(tmp_path, cache_dir):
    render.render_string(new_root(tmp_path, "a"), "x\n", "files/t.j2", {}, cached=True)
    assert (os.stat(cache_dir).st_mode & 0o777) == 0o700
    assert all((os.stat(cache_dir / n).st_mode & 0o777) == 0o600 for n in entries(cache_dir))


@pytest.mark.parametrize("unsafe", ["group-writable", "world-readable", "symlink", "a file"])
def test_unsafe_directory_means_no_cache(tmp_path, monkeypatch, compiles, unsafe):
    target = tmp_path / "real"
    target.mkdir(mode=0o700)
    path = tmp_path / "dir"
    if unsafe == "symlink":
        path.symlink_to(target)
    elif unsafe == "a file":
        path.write_text("x")
    else:
        path.mkdir()
        os.chmod(path, 0o770 if unsafe == "group-writable" else 0o704)
    monkeypatch.setenv("HAFAB_CACHE_DIR", str(path))
    for name in ("a", "b"):
        assert render.render_string(new_root(tmp_path, name), "k{{ 1 }}\n", "files/t.j2", {}, cached=True) == "k1\n"
    assert len(compiles) == 2
    assert os.listdir(target) == []


@pytest.mark.parametrize("content", [b"", b"not marshal", b"\xe9" * 100, b"N"])   # b"N" is marshal's None
def test_a_bad_entry_is_compiled_again(tmp_path, cache_dir, compiles, content):
    render.render_string(new_root(tmp_path, "a"), "z{{ 2 }}\n", "files/t.j2", {}, cached=True)
    (name,) = entries(cache_dir)
    (cache_dir / name).write_bytes(content)
    assert render.render_string(new_root(tmp_path, "b"), "z{{ 2 }}\n", "files/t.j2", {}, cached=True) == "z2\n"
    assert len(compiles) == 2


def test_off_means_no_cache(tmp_path, monkeypatch, compiles):
    monkeypatch.setenv("HAFAB_CACHE_DIR", "off")
    assert codecache.default_directory() is None
    for name in ("a", "b"):
        render.render_string(new_root(tmp_path, name), "o\n", "files/t.j2", {}, cached=True)
    assert len(compiles) == 2


def test_errors_from_a_cached_template_still_name_its_line(tmp_path, cache_dir):
    source = "one\ntwo {{ missing }}\n"
    for name in ("a", "b"):   # the second render runs the code loaded from the cache
        with pytest.raises(InputError) as info:
            render.render_string(new_root(tmp_path, name), source, "files/t.j2", {}, cached=True)
        assert info.value.where == "files/t.j2:2"
    assert len(entries(cache_dir)) == 1


def test_imported_templates_are_cached_too(tmp_path, cache_dir, compiles):
    root = new_root(tmp_path, "a")
    with open(os.path.join(root, "files", "m.j2"), "w") as f:
        f.write("{% macro hi(x) %}hi {{ x }}{% endmacro %}")
    for _ in range(2):
        render._environments.clear()   # as a new process: nothing compiled in memory
        render._templates.clear()
        out = render.render_string(root, "{% from 'm.j2' import hi %}{{ hi('you') }}\n", "files/t.j2", {}, cached=True)
        assert out == "hi you\n"
    assert len(compiles) == 2 and len(entries(cache_dir)) == 2


def test_a_reading_run_creates_nothing_and_writes_nothing(tmp_path, monkeypatch, compiles):
    directory = tmp_path / "cache" / "templates"
    monkeypatch.setenv("HAFAB_CACHE_DIR", str(directory))
    render.cache_writes(False)   # as `inv provision --check`
    assert render.render_string(new_root(tmp_path, "a"), "r{{ 3 }}\n", "files/t.j2", {}, cached=True) == "r3\n"
    assert not (tmp_path / "cache").exists()
    directory.mkdir(parents=True, mode=0o700)
    render._environments.clear()
    render._templates.clear()
    assert render.render_string(new_root(tmp_path, "b"), "r{{ 3 }}\n", "files/t.j2", {}, cached=True) == "r3\n"
    assert os.listdir(directory) == [] and len(compiles) == 2


def test_a_reading_run_uses_what_a_real_run_wrote(tmp_path, cache_dir, compiles):
    render.render_string(new_root(tmp_path, "a"), "s{{ 4 }}\n", "files/t.j2", {}, cached=True)
    render.cache_writes(False)
    render._environments.clear()
    render._templates.clear()
    assert render.render_string(new_root(tmp_path, "b"), "s{{ 4 }}\n", "files/t.j2", {}, cached=True) == "s4\n"
    assert len(compiles) == 1 and len(entries(cache_dir)) == 1
