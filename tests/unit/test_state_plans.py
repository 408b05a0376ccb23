"""Each state function's plan: given facts about a host, what it would change (no host involved)."""

import hashlib

import pytest

from hafab.engine.errors import InputError
from hafab.engine.facts import Facts, FileFact
from hafab.engine.model import State
from hafab.engine.states import lookup


class Ctx:
    """Enough of render.RenderContext for prepare() of states that use no templates."""

    def source_path(self, url, where):
        raise AssertionError("not used")


def state(function, name, **args):
    module, fun = function.split(".")
    st = State(id=name, name=name, module=module, fun=fun, args=args, sls="t", file="states/t.sls")
    lookup(function).prepare(st, Ctx())
    return st


def plan(st, **facts):
    return lookup(st.function).plan(st, Facts(**facts))


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def test_pkg_installed_lists_only_missing_packages():
    st = state("pkg.installed", "web", pkgs=["apache2", "curl"])
    p = plan(st, packages={"apache2": "2.4.62", "curl": None})
    assert list(p.changes) == ["curl"] and p.action == {"missing": ["curl"], "refresh": False}
    assert plan(st, packages={"apache2": "2.4", "curl": "7"}).changes == {}


def test_pkg_installed_refreshes_when_the_host_has_no_package_lists():
    st = state("pkg.installed", "haproxy")
    assert plan(st, packages={"haproxy": None}, apt_lists=False).action["refresh"] is True


def test_pkg_name_is_validated():
    with pytest.raises(InputError, match="not a package name"):
        state("pkg.installed", "x", pkgs=["ok", "bad; rm -rf /"])


def test_file_managed_diff_mode_and_owner():
    st = state("file.managed", "/etc/app.conf", contents="new", mode="0640", user="root")
    fact = FileFact(True, "regular file", "www-data", "root", "644", 4, sha("old\n"), "old\n")
    p = plan(st, files={"/etc/app.conf": fact, "/etc": FileFact(True, "directory")})
    assert p.changes["diff"].splitlines()[2:] == ["@@ -1 +1 @@", "-old", "+new"]
    assert p.changes["mode"] == "0640" and p.changes["user"] == "root" and p.action == "write"


def test_file_managed_in_place_is_clean_and_metadata_only_is_meta():
    st = state("file.managed", "/etc/app.conf", contents="new", mode="0640")
    ok = FileFact(True, "regular file", "root", "root", "640", 4, sha("new\n"))
    assert plan(st, files={"/etc/app.conf": ok}).changes == {}
    wrong_mode = FileFact(True, "regular file", "root", "root", "600", 4, sha("new\n"))
    p = plan(st, files={"/etc/app.conf": wrong_mode})
    assert p.changes == {"mode": "0640"} and p.action == "meta"


def test_file_managed_new_file_needs_parent_or_makedirs():
    st = state("file.managed", "/srv/x/app.conf", contents="a")
    facts = {"/srv/x/app.conf": FileFact(False), "/srv/x": FileFact(False)}
    assert plan(st, files=facts).action == "refuse"
    st = state("file.managed", "/srv/x/app.conf", contents="a", makedirs=True)
    assert plan(st, files=facts).changes == {"diff": "New file"}


def test_file_managed_refuses_unquoted_modes_that_are_not_octal():
    with pytest.raises(InputError, match="mode"):
        state("file.managed", "/etc/x", contents="a", mode="0986")


def test_file_append_adds_only_missing_lines():
    st = state("file.append", "/etc/x", text=["a", "b"])
    p = plan(st, files={"/etc/x": FileFact(True, "regular file", content="a\n")})
    assert p.action == ["b"] and "+b" in p.changes["diff"]
    assert plan(st, files={"/etc/x": FileFact(True, "regular file", content="b\na\n")}).changes == {}


def test_sysctl_present_live_and_persisted():
    st = state("sysctl.present", "net.ipv4.ip_nonlocal_bind", value=1)
    conf = "/etc/sysctl.d/99-salt.conf"  # Salt's default on systemd hosts
    p = plan(st, sysctls={"net.ipv4.ip_nonlocal_bind": "0"}, files={conf: FileFact(False)})
    assert p.changes == {"net.ipv4.ip_nonlocal_bind": "1"} and p.action == {"live": True, "persist": True}
    p = plan(st, sysctls={"net.ipv4.ip_nonlocal_bind": "1"},
             files={conf: FileFact(True, "regular file", content="net.ipv4.ip_nonlocal_bind = 1\n")})
    assert p.changes == {}
    p = plan(st, sysctls={"net.ipv4.ip_nonlocal_bind": "1"}, files={conf: FileFact(False)})
    assert p.action == {"live": False, "persist": True}


def test_service_running_starts_and_enables():
    st = state("service.running", "haproxy", enable=True)
    unit = {"load": "loaded", "active": "inactive", "enabled": "disabled"}
    p = plan(st, units={"haproxy": unit})
    assert p.changes == {"haproxy": True} and p.action[0] == ["enable", "start"]
    running = {"load": "loaded", "active": "active", "enabled": "enabled"}
    assert plan(st, units={"haproxy": running}).changes == {}
    missing = plan(st, units={})
    assert missing.action == "refuse" and "not present" in missing.comment


def test_service_dead_stops_and_disables():
    st = state("service.dead", "apache2", enable=False)
    p = plan(st, units={"apache2": {"load": "loaded", "active": "active", "enabled": "enabled"}})
    assert p.action[0] == ["stop", "disable"]


def test_cmd_run_creates():
    st = state("cmd.run", "make thing", creates="/srv/thing")
    assert plan(st, exists={"/srv/thing": True}).changes == {}
    assert plan(st, exists={"/srv/thing": False}).changes == {"cmd": "make thing"}
