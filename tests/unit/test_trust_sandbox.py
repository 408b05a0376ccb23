"""Issue 13, class 3: templates run code. SLS files and templates render in Jinja's sandbox: each escape
is bad input naming file:line and the sandbox's reason, and nothing ran (the marker file F never appears);
growth is bounded; what Salt's SLS do (`do` on lists and dicts, macros, namespace...) still renders."""

import pytest

from hafab.cluster import inventory, minions
from hafab.engine import render, sandbox
from hafab.engine.errors import EXIT_BAD_INPUT, InputError
from hafab.engine.redact import MASK

HOSTS = """\
cluster: {vip: 10.0.0.10, subnet: 10.0.0.0/24, interface: eth1, virtual_router_id: 7}
hosts:
  lb1: {address: 10.0.0.11, roles: [lb], priority: 150}
"""
POPEN = ".os.popen('touch F').read()"
FIND_POPEN = ("{% for c in ''.__class__.__mro__[1].__subclasses__() %}{% if c.__name__ == 'Popen' %}"
              "{{ c(['touch', 'F']) }}{% endif %}{% endfor %}")
OFF = "sandbox: attribute {} of type {} is off limits"

# (case, line 2 of states/a.sls, the message after 'states/a.sls:2: '); F is the marker file's path
ESCAPES = [
    ("issue-cycler-globals", "{% set x = cycler.__init__.__globals__" + POPEN + " %}", OFF.format("'__init__'", "'type'")),
    ("joiner-globals", "{{ joiner.__init__.__globals__" + POPEN + " }}", OFF.format("'__init__'", "'type'")),
    ("namespace-globals", "{{ namespace.__init__.__globals__" + POPEN + " }}", OFF.format("'__init__'", "'type'")),
    ("namespace-instance-class", "{% set ns = namespace() %}{{ ns.__class__.__init__.__globals__ }}",
     OFF.format("'__class__'", "'Namespace'")),
    ("lipsum-globals", "{{ lipsum.__globals__['os'].popen('touch F') }}", OFF.format("'__globals__'", "'function'")),
    ("range-globals", "{{ range.__globals__ }}", OFF.format("'__globals__'", "'function'")),
    ("dict-global-mro", "{{ dict.mro()[1].__subclasses__() }}", OFF.format("'mro'", "'type'")),
    ("subclasses-popen", FIND_POPEN, OFF.format("'__class__'", "'str'")),
    ("class-of-pillar", "{{ pillar.__class__.__base__.__subclasses__() }}", OFF.format("'__class__'", "'dict'")),
    ("self-private", "{{ self._TemplateReference__context.environment }}",
     OFF.format("'_TemplateReference__context'", "'TemplateReference'")),
    ("self-init", "{{ self.__init__.__globals__ }}", OFF.format("'__init__'", "'TemplateReference'")),
    ("salt-function-globals", "{{ salt['pillar.get'].__globals__['os'].system('touch F') }}",
     OFF.format("'__globals__'", "'function'")),
    ("salt-function-code", "{{ salt['grains.get'].__code__ }}", OFF.format("'__code__'", "'function'")),
    ("salt-function-closure", "{{ salt['pillar.get'].__closure__ }}", OFF.format("'__closure__'", "'function'")),
    ("method-self", "{{ ''.upper.__self__ }}", OFF.format("'__self__'", "'builtin_function_or_method'")),
    ("attr-filter", "{{ ''|attr('__class__') }}", OFF.format("'__class__'", "'str'")),
    ("subscript", "{{ ''['__class__'] }}", OFF.format("'__class__'", "'str'")),
    ("computed-name", "{{ ''|attr('__cla' ~ 'ss__') }}", OFF.format("(a computed name)", "'str'")),
    ("format-field", "{{ '{0.__class__}'.format(pillar) }}", OFF.format("'__class__'", "'dict'")),
    ("format-map", "{{ '{x.__init__.__globals__}'.format_map({'x': cycler}) }}", OFF.format("'__init__'", "'type'")),
    ("loop-private", "{% for i in [1] %}{{ loop._iterator }}{% endfor %}", OFF.format("'_iterator'", "'LoopContext'")),
    ("unused-unsafe-lookup", "{% set x = cycler.__init__ %}", OFF.format("'__init__'", "'type'")),
    ("range-too-long", "{{ range(100001)|list }}", "sandbox: range() of more than 100000 items"),
    ("range-in-a-loop", "{% for i in range(10**9) %}{% endfor %}", "sandbox: range() of more than 100000 items"),
    ("string-repeat", "{{ 'x' * 10**8 }}", "sandbox: '*' would build more than 10000000 items"),
    ("list-repeat", "{{ (10**8 * [0])|length }}", "sandbox: '*' would build more than 10000000 items"),
    ("big-power", "{{ 2 ** 1000000 }}", "sandbox: '**' would build an integer of more than 100000 bits"),
    ("big-product", "{% set n = 2 ** 60000 %}{{ n * n }}", "sandbox: '*' would build an integer of more than 100000 bits"),
    ("center-filter", "{{ 'x'|center(10**9) }}", "sandbox: a width of more than 10000000 characters"),
    ("indent-filter", "{{ 'x\\ny'|indent(10**9) }}", "sandbox: a width of more than 10000000 characters"),
    ("ljust-method", "{{ 'x'.ljust(10**9) }}", "sandbox: a width of more than 10000000 characters"),
    ("zfill-method", "{{ '1'.zfill(10**9) }}", "sandbox: a width of more than 10000000 characters"),
    ("lipsum-huge", "{{ lipsum(10**6) }}", "sandbox: lipsum() of more than 100000 words"),
    ("include-outside", "{% include '../hosts.yaml' %}", "template '../hosts.yaml' not found in states/ or files/"),
    ("include-absolute", "{% include '/etc/passwd' %}", "template '/etc/passwd' not found in states/ or files/"),
]


@pytest.fixture
def tree(tmp_path, monkeypatch):
    (tmp_path / "hosts.yaml").write_text(HOSTS)
    (tmp_path / "states").mkdir()
    (tmp_path / "files").mkdir()
    monkeypatch.chdir(tmp_path)  # 'touch F' would make tmp_path/F
    return tmp_path


def context(tree):
    inv = inventory.load(str(tree / "hosts.yaml"))
    return render.RenderContext(minions.minion(inv, "lb1"), str(tree))


def refused(call, *args):
    with pytest.raises(InputError) as info:
        call(*args)
    assert info.value.exit_code == EXIT_BAD_INPUT and "\n" not in str(info.value)
    return str(info.value)


@pytest.mark.parametrize("case,line,reason", ESCAPES, ids=[c[0] for c in ESCAPES])
def test_escape_in_an_sls_is_refused_with_file_line_and_reason(tree, case, line, reason):
    (tree / "states" / "a.sls").write_text("a: 1\n" + line.replace("'F'", repr(str(tree / "F"))) + "\nb: 2\n")
    assert refused(context(tree).render_sls, "states/a.sls") == f"states/a.sls:2: {reason}"
    assert not (tree / "F").exists()


@pytest.mark.parametrize("case,line,reason", ESCAPES[:4], ids=[c[0] for c in ESCAPES[:4]])
def test_escape_in_a_file_template_names_the_template_and_the_state(tree, case, line, reason):
    (tree / "files" / "t.cfg").write_text("global\n" + line + "\n")
    message = refused(context(tree).render_file, str(tree / "files" / "t.cfg"), {}, "states/lb.sls: cfg")
    assert message == f"files/t.cfg:2: {reason} (rendering for states/lb.sls: cfg)"
    assert not (tree / "F").exists()


def test_escape_in_inline_contents_names_the_state_and_line(tree):
    message = refused(context(tree).render_text, "ok\n" + ESCAPES[0][1] + "\n", {}, "states/a.sls: motd")
    assert message == f"states/a.sls: motd: line 2 of the template: {ESCAPES[0][2]}"
    assert not (tree / "F").exists()


def test_escape_in_an_imported_macro_names_that_file(tree):
    (tree / "states" / "map.jinja").write_text("{% macro run() %}\n{{ cycler.__init__.__globals__ }}\n{% endmacro %}\n")
    (tree / "states" / "a.sls").write_text("{% from 'map.jinja' import run %}\na: {{ run() }}\n")
    assert refused(context(tree).render_sls, "states/a.sls") == \
        f"states/map.jinja:2: {OFF.format(repr('__init__'), repr('type'))}"


def test_escape_in_top_sls_is_refused(tree):
    from hafab.engine import top
    (tree / "states" / "top.sls").write_text("base:\n  '{{ joiner.__init__ }}':\n    - a\n")
    assert refused(top.load, str(tree)) == f"states/top.sls:2: {OFF.format(repr('__init__'), repr('type'))}"


# The secret never appears, masked or not: what was computed from the pillar is not printed at all.
SECRET_READS = [
    ("include-named-by-the-secret", "{% include pillar['stats_password'] %}",
     "states/a.sls:2: template (a computed name) not found in states/ or files/"),
    ("import-under-the-secret", "{% import 'x/' ~ pillar.stats_password ~ '.jinja' as m %}",
     "states/a.sls:2: template (a computed name) not found in states/ or files/"),
    ("attribute-named-from-the-secret", "{{ pillar|attr('__' ~ pillar.stats_password[:0] ~ 'class__') }}",
     "states/a.sls:2: " + OFF.format("(a computed name)", "'dict'")),
    ("format-of-the-secret", "{{ ('{0.__class__}' ~ pillar.stats_password[:0]).format(pillar.stats_password) }}",
     "states/a.sls:2: " + OFF.format("'__class__'", "'str'")),
]


@pytest.mark.parametrize("case,line,expected", SECRET_READS, ids=[c[0] for c in SECRET_READS])
def test_a_refusal_never_shows_what_the_template_read(tree, case, line, expected):
    ctx = context(tree)
    (tree / "states" / "a.sls").write_text("a: 1\n" + line + "\n")
    message = refused(ctx.render_sls, "states/a.sls")
    assert message == expected
    assert ctx.pillar["stats_password"] not in message and MASK not in message


def test_a_render_that_runs_too_long_is_refused(tree, monkeypatch):
    monkeypatch.setattr(sandbox, "RENDER_SECONDS", 1)
    (tree / "states" / "a.sls").write_text(
        "a: 1\n{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n")
    assert refused(context(tree).render_sls, "states/a.sls") == "states/a.sls:2: sandbox: rendering took more than 1 s"


# What Salt's SLS and hafab's own templates do still renders under the sandbox.
ALLOWED = [
    ("do-list-append", "{% set l = [] %}{% do l.append(1) %}{% do l.extend([2]) %}{{ l }}", "[1, 2]"),
    ("do-dict-update", "{% set d = {} %}{% do d.update({'a': 1}) %}{% do d.setdefault('b', 2) %}{{ d|json }}",
     '{"a": 1, "b": 2}'),
    ("list-pop", "{% set l = [1, 2] %}{% do l.pop() %}{{ l }}", "[1]"),
    ("namespace-set", "{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}{% endfor %}"
                      "{{ ns.n }}", "3"),
    ("cycler-joiner", "{% set c = cycler('a', 'b') %}{% set j = joiner('+') %}{{ c.next() }}{{ c.next() }}"
                      "{% for x in [1, 2] %}{{ j() }}{{ x }}{% endfor %}", "ab1+2"),
    ("loop-vars", "{% for x in 'ab' %}{{ loop.index }}{{ ',' if not loop.last }}{% endfor %}", "1,2"),
    ("macro-and-caller", "{% macro m() %}<{{ caller() }}>{% endmacro %}{% call m() %}x{% endcall %}", "<x>"),
    ("bounded-growth", "{{ ('ab' * 3)|length }} {{ 2 ** 10 }} {{ range(100000)|length }} {{ 'x'|center(5) }}|",
     "6 1024 100000   x  |"),
    ("string-methods", "{{ 'a,b'.split(',')|join('-') }} {{ 'X'.lower() }} {{ '{}:{}'.format(1, 2) }} "
                       "{{ '%s'|format('f') }} {{ '7'.zfill(3) }}", "a-b x 1:2 f 007"),
    ("pillar-and-salt", "{{ pillar.vip }} {{ grains.id }} {{ salt['pillar.get']('nope', 'd') }} "
                        "{{ pillar.items()|list|length > 3 }}", "10.0.0.10 lb1 d True"),
    ("self-block", "{% block b %}B{% endblock %}{{ self.b() }}", "BB"),
    ("lipsum-small", "{{ lipsum(1, html=False)|length > 0 }}", "True"),
]


@pytest.mark.parametrize("case,source,expected", ALLOWED, ids=[c[0] for c in ALLOWED])
def test_what_salt_templates_do_still_renders(tree, case, source, expected):
    assert context(tree).render_text(source, {}, "w") == expected
