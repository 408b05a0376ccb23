"""Issue 13, class 1 (values into configs): every value a template can use is validated once, in the
inventory model. Names match their pattern as a whole string, `vars` shadows no validated key and carries
no control character anywhere (keys too), and a bad value is one line naming hosts.yaml and the key."""

import pytest

from hafab.cluster import inventory, minions
from hafab.engine.errors import EXIT_BAD_INPUT, InputError

SEED = """\
cluster:
  name: lay4-hap2-web2
  vip: 192.168.50.10
  subnet: 192.168.50.0/24
  interface: eth1
  virtual_router_id: 51
hosts:
  hap1:
    address: 192.168.50.11
    roles: [lb]
    priority: 101
  web1:
    address: 192.168.50.21
    roles: [web]
    vars: {}
"""
NAME_RULE = "is not a valid cluster name (1 to 63 letters, digits, '.', '_', '-', starting with a letter or digit)"


def write(tmp_path, text):
    path = tmp_path / "hosts.yaml"
    path.write_text(text)
    return str(path)


def load_error(tmp_path, text):
    with pytest.raises(InputError) as info:
        inventory.load(write(tmp_path, text))
    assert info.value.exit_code == EXIT_BAD_INPUT
    message = str(info.value)
    assert "\n" not in message and "\r" not in message and "\x1b" not in message
    return message


def with_vars(text):
    """SEED with web1's vars replaced by `text` (YAML flow or block, indented under vars)."""
    return SEED.replace("    vars: {}\n", f"    vars: {text}\n")


# (case id, text replaced in SEED, its replacement, the exact line)
CLUSTER_CASES = [
    ("name-config-injection", "name: lay4-hap2-web2", r'name: "x)\nlisten pwn\n    bind :2222"',
     rf"hosts.yaml: cluster.name: 'x)\nlisten pwn\n    bind :2222' {NAME_RULE}"),
    ("name-trailing-newline", "name: lay4-hap2-web2", r'name: "lay4\n"', rf"hosts.yaml: cluster.name: 'lay4\n' {NAME_RULE}"),
    ("name-space", "name: lay4-hap2-web2", "name: my cluster", f"hosts.yaml: cluster.name: 'my cluster' {NAME_RULE}"),
    ("name-brace", "name: lay4-hap2-web2", "name: 'x{y}'", f"hosts.yaml: cluster.name: 'x{{y}}' {NAME_RULE}"),
    ("name-leading-dash", "name: lay4-hap2-web2", "name: -x", f"hosts.yaml: cluster.name: '-x' {NAME_RULE}"),
    ("name-too-long", "name: lay4-hap2-web2", "name: " + "a" * 64, f"hosts.yaml: cluster.name: '{'a' * 64}' {NAME_RULE}"),
    ("name-empty", "name: lay4-hap2-web2", "name: ''", f"hosts.yaml: cluster.name: '' {NAME_RULE}"),
    ("name-number", "name: lay4-hap2-web2", "name: 5", f"hosts.yaml: cluster.name: 5 {NAME_RULE}"),
    ("interface-trailing-newline", "interface: eth1", r'interface: "eth1\n"',
     r"hosts.yaml: cluster.interface: 'eth1\n' is not an interface name (1 to 15 letters, digits, '.', '_', '-')"),
    ("interface-shell", "interface: eth1", "interface: 'eth1; reboot'",
     "hosts.yaml: cluster.interface: 'eth1; reboot' is not an interface name (1 to 15 letters, digits, '.', '_', '-')"),
    ("interface-dot", "interface: eth1", "interface: '.'",
     "hosts.yaml: cluster.interface: '.' is not an interface name (1 to 15 letters, digits, '.', '_', '-')"),
    ("interface-too-long", "interface: eth1", "interface: abcdefghijklmnop",
     "hosts.yaml: cluster.interface: 'abcdefghijklmnop' is not an interface name (1 to 15 letters, digits, '.', '_', '-')"),
    ("vip-trailing-newline", "vip: 192.168.50.10", r'vip: "192.168.50.10\n"',
     r"hosts.yaml: cluster.vip: '192.168.50.10\n' is not an IPv4 address"),
    ("subnet-a-list", "subnet: 192.168.50.0/24", "subnet: [192.168.50.0/24]",
     "hosts.yaml: cluster.subnet: ['192.168.50.0/24'] is not an IPv4 network (not a string)"),
    ("secret-path-newline", "  interface: eth1\n", "  interface: eth1\n  stats_password_file: \"a\\nb\"\n",
     "hosts.yaml: cluster.stats_password_file: contains the control character U+000A"),
    ("host-name-trailing-newline", "  web1:\n", '  "web1\\n":\n',
     r"hosts.yaml: hosts.'web1\n': 'web1\n' is not a valid host name (letters, digits, hyphens)"),
    ("host-name-space", "  web1:\n", '  "web 1":\n',
     "hosts.yaml: hosts.web 1: 'web 1' is not a valid host name (letters, digits, hyphens)"),
    ("address-trailing-newline", "address: 192.168.50.21", r'address: "192.168.50.21\n"',
     r"hosts.yaml: hosts.web1.address: '192.168.50.21\n' is not an IPv4 address"),
]


@pytest.mark.parametrize("case,old,new,line", CLUSTER_CASES, ids=[c[0] for c in CLUSTER_CASES])
def test_cluster_and_host_values_match_their_pattern_whole(tmp_path, case, old, new, line):
    assert old in SEED
    assert load_error(tmp_path, SEED.replace(old, new, 1)) == line


ROLE_RULE = "(1 to 32 letters, digits, '_', '-', starting and ending with a letter or digit)"
ROLE_CASES = [
    ("trailing-newline", r'["web\n"]', r"'web\n' is not a valid role name " + ROLE_RULE),
    ("space", "['web server']", "'web server' is not a valid role name " + ROLE_RULE),
    ("colon", "['roles:lb']", "'roles:lb' is not a valid role name " + ROLE_RULE),
    ("glob", "['*']", "'*' is not a valid role name " + ROLE_RULE),
    ("empty", "['']", "'' is not a valid role name " + ROLE_RULE),
    ("number", "[5]", "5 is not a valid role name " + ROLE_RULE),
    ("too-long", "[" + "r" * 33 + "]", f"'{'r' * 33}' is not a valid role name " + ROLE_RULE),
    ("twice", "[web, web]", "'web' is listed twice"),
    ("not-a-list", "web", "must be a non-empty list of role names"),
]


@pytest.mark.parametrize("case,roles,message", ROLE_CASES, ids=[c[0] for c in ROLE_CASES])
def test_role_names_have_a_strict_pattern(tmp_path, case, roles, message):
    text = SEED.replace("roles: [web]", f"roles: {roles}")
    assert load_error(tmp_path, text) == f"hosts.yaml: hosts.web1.roles: {message}"


SHADOWED = [("interface", "cluster.interface"), ("vip", "cluster.vip"), ("subnet", "cluster.subnet"),
            ("virtual_router_id", "cluster.virtual_router_id"), ("name", "cluster.name"),
            ("preempt", "cluster.preempt"), ("timings", "cluster.timings"), ("persistence", "cluster.persistence"),
            ("mode", "cluster.mode"), ("block_direct", "cluster.block_direct"),
            ("stats_password_file", "cluster.stats_password_file"), ("address", "hosts.web1.address"),
            ("roles", "hosts.web1.roles"), ("priority", "hosts.web1.priority"), ("hosts", "hosts"),
            ("stats_password", "stats_password (read from cluster.stats_password_file)")]


@pytest.mark.parametrize("key,validated", SHADOWED, ids=[s[0] for s in SHADOWED])
def test_vars_cannot_shadow_a_validated_key(tmp_path, key, validated):
    message = load_error(tmp_path, with_vars(f"{{{key}: 'eth1; reboot'}}"))
    assert message == f"hosts.yaml: hosts.web1.vars.{key}: shadows the validated key {validated}"


def test_the_issue_example_names_both_keys(tmp_path):
    text = SEED.replace("    priority: 101\n", "    priority: 101\n    vars: {interface: \"eth1; reboot\"}\n")
    assert load_error(tmp_path, text) == \
        "hosts.yaml: hosts.hap1.vars.interface: shadows the validated key cluster.interface"


CONTROL = "contains the control character"
VARS_CASES = [
    ("newline", r'{banner: "a\nb"}', f"hosts.web1.vars.banner: {CONTROL} U+000A"),
    ("carriage-return", r'{banner: "a\rb"}', f"hosts.web1.vars.banner: {CONTROL} U+000D"),
    ("escape", r'{banner: "\e[31mred"}', f"hosts.web1.vars.banner: {CONTROL} U+001B"),
    ("nul", r'{banner: "a\0"}', f"hosts.web1.vars.banner: {CONTROL} U+0000"),
    ("tab", r'{banner: "a\tb"}', f"hosts.web1.vars.banner: {CONTROL} U+0009"),
    ("delete", r'{banner: "a\x7f"}', f"hosts.web1.vars.banner: {CONTROL} U+007F"),
    ("next-line-c1", r'{banner: "a\N"}', f"hosts.web1.vars.banner: {CONTROL} U+0085"),
    ("line-separator", r'{banner: "a\L"}', f"hosts.web1.vars.banner: {CONTROL} U+2028"),
    ("bidi-override", r'{banner: "a\u202eb"}', f"hosts.web1.vars.banner: {CONTROL} U+202E"),
    ("nested-list", r'{a: {b: [ok, "x\e"]}}', f"hosts.web1.vars.a.b[1]: {CONTROL} U+001B"),
    ("list-of-maps", r'{a: [{b: "\n"}]}', f"hosts.web1.vars.a[0].b: {CONTROL} U+000A"),
    ("key", r'{"a\nb": 1}', rf"hosts.web1.vars: key 'a\nb': {CONTROL} U+000A"),
    ("nested-key", r'{a: {"listen pwn\n": 1}}', rf"hosts.web1.vars.a: key 'listen pwn\n': {CONTROL} U+000A"),
    ("block-scalar", "\n      banner: |\n        two\n        lines", f"hosts.web1.vars.banner: {CONTROL} U+000A"),
    ("bytes", "{blob: !!binary aGk=}", "hosts.web1.vars.blob: a bytes is not allowed "
                                       "(strings, numbers, booleans, dates, lists and mappings are)"),
    ("set", "{s: !!set {a, b}}", "hosts.web1.vars.s: a set is not allowed "
                                 "(strings, numbers, booleans, dates, lists and mappings are)"),
    ("not-a-mapping", "[a, b]", "hosts.web1.vars: must be a mapping"),
]


@pytest.mark.parametrize("case,value,message", VARS_CASES, ids=[c[0] for c in VARS_CASES])
def test_vars_strings_carry_no_control_character(tmp_path, case, value, message):
    assert load_error(tmp_path, with_vars(value)) == f"hosts.yaml: {message}"


def test_vars_that_refer_to_themselves_are_refused(tmp_path):
    text = with_vars("&v {a: [*v]}")
    assert load_error(tmp_path, text) == "hosts.yaml: hosts.web1.vars.a[0]: contains itself (a YAML alias loop)"


def test_vars_that_expand_without_bound_are_refused(tmp_path):
    bomb = "\n      a: &a [x, x, x, x, x, x, x, x, x, x]\n      b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]" \
           "\n      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n      d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]"
    message = load_error(tmp_path, with_vars(bomb))
    assert message.startswith("hosts.yaml: hosts.web1.vars.d") and "more than 10000 values" in message


def test_legitimate_vars_still_reach_the_pillar(tmp_path):
    text = with_vars("{haproxy_stats_port: 8405, motd: 'Hello, world: {x}', ports: [80, 443], since: 2024-01-01,"
                     " tuning: {nbthread: 2, 'é': ok}, empty: null, ratio: 0.5, on: true}")
    inv = inventory.load(write(tmp_path, text))
    pillar = minions.pillar(inv, inv.hosts["web1"])
    assert pillar["motd"] == "Hello, world: {x}" and pillar["ports"] == [80, 443]
    assert pillar["tuning"] == {"nbthread": 2, "é": "ok"} and str(pillar["since"]) == "2024-01-01"
    assert pillar["interface"] == "eth1" and pillar["address"] == "192.168.50.21"


def test_a_default_name_from_an_unfit_directory_says_to_set_cluster_name(tmp_path):
    folder = tmp_path / "my cluster"
    folder.mkdir()
    message = load_error(folder, SEED.replace("  name: lay4-hap2-web2\n", ""))
    assert message == ("hosts.yaml: cluster.name: missing, and the directory name 'my cluster' is not a valid "
                       "cluster name (1 to 63 letters, digits, '.', '_', '-', starting with a letter or digit): "
                       "set cluster.name")


@pytest.mark.parametrize("names,roles,message", [
    (["web2"], None, "hosts.yaml: --hosts: no host named 'web2'"),
    (None, ["db"], "hosts.yaml: --roles: no host has the role 'db'"),
], ids=["unknown-host", "unknown-role"])
def test_select_refuses_unknown_names(tmp_path, names, roles, message):
    inv = inventory.load(write(tmp_path, SEED))
    with pytest.raises(InputError) as info:
        inv.select(names, roles)
    assert str(info.value) == message


@pytest.mark.parametrize("old,new,start", [
    ("  interface: eth1\n", '  interface: eth1\n  "colour\\n": blue\n', r"hosts.yaml: cluster.'colour\n': unknown key"),
    ("    roles: [web]\n", '    roles: [web]\n    "\\e[2J": 1\n', r"hosts.yaml: hosts.web1.'\x1b[2J': unknown key"),
], ids=["cluster-key", "host-key"])
def test_unknown_keys_with_control_characters_are_named_escaped(tmp_path, old, new, start):
    assert load_error(tmp_path, SEED.replace(old, new)).startswith(start)
