"""SLS compilation: Salt's shapes, include, IDs, functions and arguments, requisites and Salt's order."""

import pytest

from hafab.cluster import inventory, minions
from hafab.engine import sls
from hafab.engine.errors import EXIT_BAD_INPUT, InputError

HOSTS = """\
cluster: {vip: 10.0.0.10, subnet: 10.0.0.0/24, interface: eth1, virtual_router_id: 7}
hosts:
  lb1: {address: 10.0.0.11, roles: [lb], priority: 101, vars: {backend_port: 8080}}
  web1: {address: 10.0.0.21, roles: [web]}
"""
TOP = "base:\n  '*':\n    - main\n  'roles:*':\n    - match: pillar\n"


class FakeFunction:
    """Stands for a state function: accepted arguments, and a prepare() that records the call order."""

    def __init__(self, function, args=()):
        self.function, self.args = function, frozenset(args)
        self.prepared = []

    def prepare(self, state, ctx):
        PREPARED.append(state.key)


class FakeManaged(FakeFunction):
    def prepare(self, state, ctx):
        super().prepare(state, ctx)
        if "source" in state.args:
            path = ctx.source_path(state.args["source"], state.where)
            if state.args.get("template") == "jinja":
                extra = {**state.args.get("defaults", {}), **state.args.get("context", {})}
                state.prepared["text"] = ctx.render_file(path, extra, state.where)


FAKES = {f.function: f for f in (
    FakeFunction("pkg.installed", {"pkgs", "refresh"}),
    FakeFunction("service.running", {"enable", "reload"}),
    FakeFunction("service.enabled"),
    FakeFunction("cmd.run", {"creates", "cwd"}),
    FakeFunction("file.directory", {"mode"}),
    FakeManaged("file.managed", {"source", "contents", "template", "context", "defaults", "mode", "user"}),
)}
PREPARED = []


@pytest.fixture(autouse=True)
def fake_states(monkeypatch):
    monkeypatch.setattr(sls, "find_function", FAKES.get)
    PREPARED.clear()


def make_tree(tmp_path, files, top=TOP):
    (tmp_path / "hosts.yaml").write_text(HOSTS)
    for path, text in {"states/top.sls": top, **files}.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return inventory.load(str(tmp_path / "hosts.yaml"))


def compile_host(tmp_path, files, host="web1", top=TOP):
    inv = make_tree(tmp_path, files, top)
    return minions.compile_host(inv, host, str(tmp_path))


def ids(states):
    return [s.id for s in states]


def error(tmp_path, files, top=TOP):
    with pytest.raises(InputError) as info:
        compile_host(tmp_path, files, top=top)
    assert info.value.exit_code == EXIT_BAD_INPUT and "\n" not in str(info.value)
    return str(info.value)


# --- Salt's shapes ---------------------------------------------------------------------------------

def test_state_fields_and_name_defaults_to_id(tmp_path):
    text = "# web\n\nnginx:\n  pkg.installed:\n    - refresh: true\n"
    [state] = compile_host(tmp_path, {"states/main.sls": text})
    assert (state.id, state.name, state.module, state.fun) == ("nginx", "nginx", "pkg", "installed")
    assert state.args == {"refresh": True}
    assert (state.sls, state.file, state.line) == ("main", "states/main.sls", 3)
    assert state.key == "pkg_|-nginx_|-nginx_|-installed"
    assert PREPARED == [state.key]


def test_argument_forms(tmp_path):
    states = compile_host(tmp_path, {"states/main.sls": """\
list-form:
  file.directory:
    - name: /srv/a
    - mode: '0755'
dict-form:
  file.directory: {name: /srv/b, mode: '0700'}
legacy-form:
  file:
    - directory
    - name: /srv/c
empty-list:
  pkg.installed: []
no-args:
  pkg.installed:
short: pkg.installed
"""})
    assert [(s.id, s.name, s.function, s.args) for s in states] == [
        ("list-form", "/srv/a", "file.directory", {"mode": "0755"}),
        ("dict-form", "/srv/b", "file.directory", {"mode": "0700"}),
        ("legacy-form", "/srv/c", "file.directory", {}),
        ("empty-list", "empty-list", "pkg.installed", {}),
        ("no-args", "no-args", "pkg.installed", {}),
        ("short", "short", "pkg.installed", {}),
    ]


def test_names_expand_one_id_into_several_states(tmp_path):
    states = compile_host(tmp_path, {"states/main.sls": """\
dirs:
  file.directory:
    - mode: '0755'
    - names:
      - /srv/z
      - /srv/a:
        - mode: '0700'
      - /srv/m
"""})
    assert [(s.id, s.name, s.args["mode"]) for s in states] == [
        ("dirs", "/srv/z", "0755"), ("dirs", "/srv/a", "0700"), ("dirs", "/srv/m", "0755")]


def test_several_modules_under_one_id(tmp_path):
    states = compile_host(tmp_path, {"states/main.sls": """\
apache2:
  pkg.installed: []
  service.running:
    - enable: true
    - require:
      - pkg: apache2
"""})
    assert [s.function for s in states] == ["pkg.installed", "service.running"]
    assert states[1].require == ["pkg_|-apache2_|-apache2_|-installed"]
    assert states[1].args == {"enable": True}


def test_only_one_function_per_module_per_id(tmp_path):
    message = error(tmp_path, {"states/main.sls": "x:\n  service.running: []\n  service.enabled: []\n"})
    assert message == ("states/main.sls:1: ID 'x': service.running and service.enabled: "
                       "only one function per module under one ID")


def test_unknown_function_names_file_id_and_function(tmp_path):
    message = error(tmp_path, {"states/main.sls": "a:\n  pkg.installed: []\nnginx:\n  pkg.instaled: []\n"})
    assert message == "states/main.sls:3: ID 'nginx': unknown state function 'pkg.instaled'"


def test_unknown_argument_names_file_id_function_and_argument(tmp_path):
    message = error(tmp_path, {"states/main.sls": "nginx:\n  pkg.installed:\n    - verion: 1\n"})
    assert message == "states/main.sls:1: ID 'nginx': pkg.installed: unknown argument 'verion'"


def test_unknown_argument_in_a_names_override(tmp_path):
    message = error(tmp_path, {"states/main.sls": "d:\n  file.directory:\n    - names:\n      - /a: [{mod: 1}]\n"})
    assert message == "states/main.sls:1: ID 'd': file.directory: unknown argument 'mod'"


@pytest.mark.parametrize("text, message", [
    ("a:\n  pkg.installed:\n    - refresh\n",
     "states/main.sls:1: ID 'a': pkg.installed: 'refresh' is not an argument (missing ':'?)"),
    ("a:\n  file:\n    - name: /x\n",
     "states/main.sls:1: ID 'a': file: give exactly one function (write file.<function>)"),
    ("a:\n  file: [managed, directory]\n",
     "states/main.sls:1: ID 'a': file: give exactly one function (write file.<function>)"),
    ("a:\n  pkg.installed:\n    - refresh: 1\n    - refresh: 2\n",
     "states/main.sls:1: ID 'a': pkg.installed: argument 'refresh' is given twice"),
    ("80:\n  pkg.installed: []\n", "states/main.sls:1: ID 80 is not a string (quote it)"),
    ("a: [1]\n", "states/main.sls:1: ID 'a': must map state functions to their arguments"),
    ("- a\n", "states/main.sls: an SLS must be a mapping of IDs to states"),
    ("extend:\n  a: {}\n", "states/main.sls: extend: not supported by hafab"),
    ("d:\n  file.directory:\n    - names: [/a, /a]\n",
     "states/main.sls:1: ID 'd': file.directory: name '/a' is given twice"),
    ("a:\n  pkg.installed:\n    - require: {pkg: b}\n",
     "states/main.sls:1: ID 'a': require: must be a list like [{pkg: nginx}] or [ID]"),
])
def test_malformed_sls(tmp_path, text, message):
    assert error(tmp_path, {"states/main.sls": text}) == message


def test_invalid_yaml_after_rendering_names_the_line(tmp_path):
    message = error(tmp_path, {"states/main.sls": "a:\n  pkg.installed: [\n"})
    assert message.startswith("states/main.sls:") and "invalid YAML" in message


# --- include -----------------------------------------------------------------------------------------

def test_includes_come_first_and_load_once(tmp_path):
    states = compile_host(tmp_path, {
        "states/main.sls": "include:\n  - web\n  - base\nmain-a:\n  pkg.installed: []\n",
        "states/web/init.sls": "include:\n  - base\n  - .conf\nweb-a:\n  pkg.installed: []\n",
        "states/web/conf.sls": "include:\n  - base\nconf-a:\n  pkg.installed: []\n",
        "states/base.sls": "base-a:\n  pkg.installed: []\n",
    })
    assert ids(states) == ["base-a", "conf-a", "web-a", "main-a"]
    assert [s.sls for s in states] == ["base", "web.conf", "web", "main"]
    assert [s.file for s in states] == ["states/base.sls", "states/web/conf.sls", "states/web/init.sls",
                                        "states/main.sls"]


def test_top_order_and_sls_included_earlier_is_not_repeated(tmp_path):
    top = "base:\n  '*':\n    - main\n    - common\n  'roles:*':\n    - match: pillar\n"
    states = compile_host(tmp_path, {
        "states/main.sls": "include: [common]\nmain-a:\n  pkg.installed: []\n",
        "states/common.sls": "common-a:\n  pkg.installed: []\n",
    }, top=top)
    assert ids(states) == ["common-a", "main-a"]


def test_include_loop_names_the_chain(tmp_path):
    message = error(tmp_path, {
        "states/main.sls": "include: [a]\n",
        "states/a.sls": "include: [b]\nx:\n  pkg.installed: []\n",
        "states/b.sls": "include: [a]\n",
    })
    assert message == "states/b.sls: include loop: a -> b -> a"


def test_include_of_a_missing_sls(tmp_path):
    message = error(tmp_path, {"states/main.sls": "include: [nope.deep]\n"})
    assert message == "states/main.sls: include 'nope.deep': no SLS 'nope.deep' " \
                      "(states/nope/deep.sls or states/nope/deep/init.sls)"


def test_duplicate_id_across_included_files_names_both(tmp_path):
    message = error(tmp_path, {
        "states/main.sls": "include: [a]\n\nnginx:\n  pkg.installed: []\n",
        "states/a.sls": "nginx:\n  service.running: []\n",
    })
    assert message == "states/main.sls:3: ID 'nginx' is already defined in states/a.sls"


# --- rendering -----------------------------------------------------------------------------------------

def test_sls_is_rendered_with_pillar_and_grains_per_host(tmp_path):
    files = {"states/main.sls": """\
{% for port in [80, pillar.get('backend_port', 80)] | unique %}
listen-{{ port }}:
  cmd.run:
    - name: echo {{ grains.id }} {{ port }}
{% endfor %}
"""}
    inv = make_tree(tmp_path, files)
    compiled = minions.compile_hosts(inv, root=str(tmp_path))
    assert {h: [s.name for s in states] for h, states in compiled.items()} == {
        "lb1": ["echo lb1 80", "echo lb1 8080"], "web1": ["echo web1 80"]}
    assert compiled["lb1"][1].line == 0  # an ID made by Jinja has no source line


def test_compile_all_for_selected_hosts_by_name_or_host(tmp_path):
    inv = make_tree(tmp_path, {"states/main.sls": "a:\n  pkg.installed: []\n"})
    assert list(minions.compile_hosts(inv, ["web1"], str(tmp_path))) == ["web1"]
    assert list(minions.compile_hosts(inv, [inv.hosts["lb1"]], str(tmp_path))) == ["lb1"]


def test_render_error_names_file_and_line(tmp_path):
    message = error(tmp_path, {"states/main.sls": "a:\n  pkg.installed:\n    - refresh: {{ pillar.nope }}\n"})
    assert message == "states/main.sls:3: 'dict object' has no attribute 'nope'"


def test_missing_salt_source_names_state_and_url(tmp_path):
    message = error(tmp_path, {"states/main.sls": "/etc/x.conf:\n  file.managed:\n    - source: salt://x.conf\n"})
    assert message == "states/main.sls: /etc/x.conf: source 'salt://x.conf': no such file files/x.conf"


def test_template_with_defaults_and_context(tmp_path):
    [state] = compile_host(tmp_path, {
        "files/app.conf": "{{ a }} {{ b }} {{ grains.id }}\n",
        "states/main.sls": "/etc/app.conf:\n  file.managed:\n    - source: salt://app.conf\n"
                           "    - template: jinja\n    - defaults: {a: 1, b: 2}\n    - context: {b: 3}\n",
    })
    assert state.prepared["text"] == "1 3 web1\n"


def test_template_error_names_the_template_line(tmp_path):
    message = error(tmp_path, {
        "files/app.conf": "ok\n{{ pillar.nope }}\n",
        "states/main.sls": "/etc/app.conf:\n  file.managed:\n    - source: salt://app.conf\n"
                           "    - template: jinja\n",
    })
    assert message == "files/app.conf:2: 'dict object' has no attribute 'nope' " \
                      "(rendering for states/main.sls: /etc/app.conf)"


# --- requisites -----------------------------------------------------------------------------------------

REQS = """\
nginx:
  pkg.installed: []
conf:
  file.managed:
    - name: /etc/nginx/nginx.conf
    - contents: x
    - require:
      - pkg: nginx
svc:
  service.running:
    - name: nginx
    - watch:
      - file: /etc/nginx/*.conf
    - require:
      - sls: other
    - onchanges:
      - conf
other-a:
  cmd.run:
    - name: echo a
    - require_in:
      - service: nginx
    - watch_in:
      - file: conf
"""


def test_requisites_resolve_to_state_keys(tmp_path):
    files = {"states/main.sls": "include: [other]\n" + REQS.split("other-a:")[0],
             "states/other.sls": "other-a:" + REQS.split("other-a:")[1]}
    states = {s.id: s for s in compile_host(tmp_path, files)}
    conf, svc = states["conf"], states["svc"]
    assert conf.require == ["pkg_|-nginx_|-nginx_|-installed"]
    assert conf.watch == ["cmd_|-other-a_|-echo a_|-run"]
    assert svc.require == ["cmd_|-other-a_|-echo a_|-run"]  # sls: other, then require_in adds the same
    assert svc.watch == ["file_|-conf_|-/etc/nginx/nginx.conf_|-managed"]
    assert svc.onchanges == ["file_|-conf_|-/etc/nginx/nginx.conf_|-managed"]
    assert "require" not in svc.args and "require_in" not in states["other-a"].args


def test_bare_id_requisite_matches_every_state_of_that_id(tmp_path):
    states = compile_host(tmp_path, {"states/main.sls": """\
app:
  pkg.installed: []
  service.running: []
after:
  cmd.run:
    - require: [app]
"""})
    assert states[-1].require == ["pkg_|-app_|-app_|-installed", "service_|-app_|-app_|-running"]


def test_requisite_on_a_missing_id(tmp_path):
    message = error(tmp_path, {"states/main.sls": "a:\n  cmd.run:\n    - require:\n      - pkg: nginx\n"})
    assert message == "states/main.sls:1: 'a' (cmd.run): require {pkg: nginx} matches no state"


def test_requisite_with_the_right_id_and_the_wrong_module_names_both(tmp_path):
    text = "nginx:\n  service.running: []\n\nconf:\n  cmd.run:\n    - watch:\n      - pkg: nginx\n"
    message = error(tmp_path, {"states/main.sls": text})
    assert message == ("states/main.sls:4: 'conf' (cmd.run): watch {pkg: nginx} matches no state; "
                       "'nginx' (service.running) has another module")


def test_requisite_in_on_a_missing_id(tmp_path):
    message = error(tmp_path, {"states/main.sls": "a:\n  cmd.run:\n    - watch_in:\n      - service: b\n"})
    assert message == "states/main.sls:1: 'a' (cmd.run): watch_in {service: b} matches no state"


def test_cycle_names_its_states(tmp_path):
    message = error(tmp_path, {"states/main.sls": """\
a:
  cmd.run:
    - require: [b]
    - onchanges_in: [c]
b:
  cmd.run:
    - name: echo b
    - watch: [c]
c:
  cmd.run: []
"""})
    assert message == ("states/main.sls: requisite cycle: 'a' (cmd.run) -> 'b' (cmd.run name 'echo b') "
                       "-> 'c' (cmd.run) -> 'a' (cmd.run)")


def test_self_requisite_is_a_cycle(tmp_path):
    message = error(tmp_path, {"states/main.sls": "a:\n  cmd.run:\n    - require: [a]\n"})
    assert message == "states/main.sls: requisite cycle: 'a' (cmd.run) -> 'a' (cmd.run)"


# --- order ------------------------------------------------------------------------------------------------

def test_salt_order_recorded_with_salt_call(tmp_path):
    """salt-call 3008.4 (salt-semantics.md): zulu, alpha, needs_last (require: last), mike, last."""
    states = compile_host(tmp_path, {"states/main.sls": """\
zulu:
  cmd.run: []
alpha:
  cmd.run: []
needs_last:
  cmd.run:
    - require:
      - cmd: last
mike:
  cmd.run: []
last:
  cmd.run: []
"""})
    assert ids(states) == ["zulu", "alpha", "last", "needs_last", "mike"]
    assert PREPARED == [s.key for s in states]  # prepare() runs in execution order


def test_unmet_requisites_run_depth_first_just_before(tmp_path):
    states = compile_host(tmp_path, {"states/main.sls": """\
a:
  cmd.run:
    - require: [x]
b:
  cmd.run: []
x:
  cmd.run:
    - require: [y]
    - onchanges: [b]
y:
  cmd.run: []
z:
  cmd.run:
    - watch_in: [a]
"""})
    # a needs x (which needs y, then b) and, through watch_in, z: all run before a; b is not run twice
    assert ids(states) == ["y", "b", "x", "z", "a"]


def test_requisite_kinds_run_in_salt_order(tmp_path):
    states = compile_host(tmp_path, {"states/main.sls": """\
s:
  cmd.run:
    - onchanges: [o]
    - watch: [w]
    - require: [r2, r1]
o:
  cmd.run: []
w:
  cmd.run: []
r1:
  cmd.run: []
r2:
  cmd.run: []
"""})
    assert ids(states) == ["r2", "r1", "w", "o", "s"]


def test_included_requisite_order_across_files(tmp_path):
    states = compile_host(tmp_path, {
        "states/main.sls": "include: [lib]\nfirst:\n  cmd.run:\n    - require:\n      - sls: late\n",
        "states/lib.sls": "lib:\n  cmd.run: []\n",
        "states/late.sls": "late-1:\n  cmd.run: []\nlate-2:\n  cmd.run: []\n",
    }, top="base:\n  '*':\n    - main\n    - late\n  'roles:*':\n    - match: pillar\n")
    assert ids(states) == ["lib", "late-1", "late-2", "first"]


def test_real_registry_is_found_lazily(monkeypatch):
    monkeypatch.undo()
    function = sls.find_function("file.managed")
    assert function is not None and "source" in function.args
    assert sls.find_function("pkg.nope") is None
