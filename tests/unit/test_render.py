"""Render context (pillar, grains, salt['pillar.get']), Jinja errors with file:line, salt:// sources."""

import pytest

from hafab.cluster import inventory, minions
from hafab.engine import render
from hafab.engine.errors import EXIT_BAD_INPUT, InputError

HOSTS = """\
cluster:
  vip: 10.0.0.10
  subnet: 10.0.0.0/24
  interface: eth1
  virtual_router_id: 7
  mode: tcp
hosts:
  lb1:
    address: 10.0.0.11
    roles: [lb]
    priority: 150
    vars:
      haproxy: {maxconn: 100, tuning: {nbthread: 2}}
  web1:
    address: 10.0.0.21
    roles: [web]
"""


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "hosts.yaml").write_text(HOSTS)
    (tmp_path / "states").mkdir()
    (tmp_path / "files").mkdir()
    return tmp_path


def context(tree, host="lb1"):
    inv = inventory.load(str(tree / "hosts.yaml"))
    return render.RenderContext(minions.minion(inv, host), str(tree))


def error(call, *args):
    with pytest.raises(InputError) as info:
        call(*args)
    assert info.value.exit_code == EXIT_BAD_INPUT
    assert "\n" not in str(info.value)
    return str(info.value)


def test_pillar_has_cluster_host_vars_hosts_and_secret(tree):
    ctx = context(tree)
    pillar = ctx.pillar
    assert pillar["vip"] == "10.0.0.10" and pillar["mode"] == "tcp" and pillar["name"] == tree.name
    assert pillar["address"] == "10.0.0.11" and pillar["roles"] == ["lb"] and pillar["priority"] == 150
    assert pillar["haproxy"] == {"maxconn": 100, "tuning": {"nbthread": 2}}
    assert list(pillar["hosts"]) == ["lb1", "web1"]
    assert pillar["hosts"]["web1"] == {"name": "web1", "address": "10.0.0.21", "roles": ["web"],
                                       "priority": None, "vars": {}}
    assert len(pillar["stats_password"]) >= 32
    assert ctx.grains == {"id": "lb1", "host": "lb1", "ipv4": ["10.0.0.11"], "roles": ["lb"]}


def test_host_vars_cannot_shadow_a_cluster_key(tree):  # issue 13: vars once overrode validated keys
    (tree / "hosts.yaml").write_text(HOSTS.replace("haproxy: {maxconn", "mode: http\n      haproxy: {maxconn"))
    assert error(context, tree) == "hosts.yaml: hosts.lb1.vars.mode: shadows the validated key cluster.mode"


def test_pillar_is_not_shared_between_hosts(tree):
    lb, web = context(tree), context(tree, "web1")
    lb.pillar["hosts"]["web1"]["roles"].append("x")
    assert web.pillar["hosts"]["web1"]["roles"] == ["web"]


def test_render_sls_with_pillar_grains_and_salt_pillar_get(tree):
    (tree / "states" / "x.sls").write_text(
        "a: {{ pillar.vip }}\n"
        "b: {{ grains.id }} {{ grains.ipv4[0] }}\n"
        "c: {{ salt['pillar.get']('haproxy:tuning:nbthread') }}\n"
        "d: {{ salt['pillar.get']('haproxy:nope', 'dflt') }}\n"
        "e: '{{ salt['pillar.get']('nope:deeper') }}'\n"
        "f: {{ salt['pillar.get']('hosts:web1:roles:0') }}\n")
    assert context(tree).render_sls("states/x.sls") == \
        "a: 10.0.0.10\nb: lb1 10.0.0.11\nc: 2\nd: dflt\ne: ''\nf: web\n"


def test_trailing_newline_is_kept(tree):
    assert context(tree).render_text("x\n", {}, "w") == "x\n"


def test_undefined_variable_names_file_and_line(tree):
    (tree / "states" / "haproxy.sls").write_text("a: 1\n\n{% if true %}\nb: {{ pillar.x }}\n{% endif %}\n")
    assert error(context(tree).render_sls, "states/haproxy.sls") == \
        "states/haproxy.sls:4: 'dict object' has no attribute 'x'"


def test_undefined_name_names_file_and_line(tree):
    (tree / "states" / "a.sls").write_text("a: {{ nope }}\n")
    assert error(context(tree).render_sls, "states/a.sls") == "states/a.sls:1: 'nope' is undefined"


def test_syntax_error_names_file_and_line(tree):
    (tree / "states" / "a.sls").write_text("a: 1\nb: 2\n{% if %}\n")
    message = error(context(tree).render_sls, "states/a.sls")
    assert message.startswith("states/a.sls:3: Jinja syntax error: ")


def test_error_in_imported_macro_names_that_file(tree):
    (tree / "states" / "map.jinja").write_text("{% macro port() %}\n{{ 1 // 0 }}\n{% endmacro %}\n")
    (tree / "states" / "a.sls").write_text("{% from 'map.jinja' import port %}\na: {{ port() }}\n")
    assert error(context(tree).render_sls, "states/a.sls") == \
        "states/map.jinja:2: ZeroDivisionError: integer division or modulo by zero"


def test_render_file_with_defaults_context_and_pillar(tree):
    (tree / "files" / "t.cfg").write_text("{{ greeting }} {{ who }} {{ pillar.vip }} {{ grains.host }}\n")
    ctx = context(tree)
    extra = {**{"greeting": "hi", "who": "default"}, **{"who": "context"}}
    assert ctx.render_file(str(tree / "files" / "t.cfg"), extra, "states/a.sls: cfg") == \
        "hi context 10.0.0.10 lb1\n"


def test_template_error_names_template_line_and_state(tree):
    (tree / "files" / "t.cfg").write_text("global\n  maxconn {{ pillar.haproxy.nope }}\n")
    message = error(context(tree).render_file, str(tree / "files" / "t.cfg"), {}, "states/lb.sls: cfg")
    assert message == "files/t.cfg:2: 'dict object' has no attribute 'nope' (rendering for states/lb.sls: cfg)"


def test_render_text_error_names_where_and_line(tree):
    message = error(context(tree).render_text, "ok\n{{ missing }}\n", {}, "states/a.sls: motd")
    assert message == "states/a.sls: motd: line 2 of the template: 'missing' is undefined"


def test_secret_never_appears_in_an_error(tree):
    ctx = context(tree)
    message = error(ctx.render_text, "{{ pillar[pillar.stats_password] }}", {}, "w")
    assert ctx.pillar["stats_password"] not in message
    assert message == "w: line 1 of the template: 'dict object' has no attribute '**********'"


def test_source_path(tree):
    (tree / "files" / "sub").mkdir()
    (tree / "files" / "sub" / "a.cfg").write_text("x")
    ctx = context(tree)
    assert ctx.source_path("salt://sub/a.cfg", "w") == str(tree / "files" / "sub" / "a.cfg")
    assert error(ctx.source_path, "salt://nope.cfg", "states/a.sls: cfg") == \
        "states/a.sls: cfg: source 'salt://nope.cfg': no such file files/nope.cfg"
    assert "only salt:// sources" in error(ctx.source_path, "/etc/passwd", "w")
    assert "not a file under files/" in error(ctx.source_path, "salt://../hosts.yaml", "w")


def test_one_environment_and_compiled_template_reused(tree):
    (tree / "states" / "a.sls").write_text("a: {{ grains.id }}\n")
    lb, web = context(tree), context(tree, "web1")
    assert render.environment(str(tree)) is render.environment(str(tree))
    before = len(render._templates)
    assert lb.render_sls("states/a.sls") == "a: lb1\n"
    assert web.render_sls("states/a.sls") == "a: web1\n"
    assert len(render._templates) == before + 1
