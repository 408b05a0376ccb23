"""A web server removed from hosts.yaml while a state still names it in a requisite: `inv provision` exits 2
with one line naming the file, line, state ID and the missing target, and dials no host."""

import pytest

from tests.e2e.conftest import inv
from tests.e2e.test_bad_input import listener, ssh_config  # noqa: F401  (listener is a fixture)

HOSTS = """\
cluster:
  vip: 10.98.0.10
  subnet: 10.98.0.0/24
  interface: eth1
  virtual_router_id: 9
hosts:
  lb1: {address: 10.98.0.11, roles: [lb], priority: 101}
  web1: {address: 10.98.0.21, roles: [web]}
"""
WEB2 = "  web2: {address: 10.98.0.22, roles: [web]}\n"
TOP = "base:\n  'roles:lb':\n    - match: pillar\n    - lb\n  'roles:web':\n    - match: pillar\n    - web\n"
WEB = "site:\n  file.managed:\n    - name: /tmp/hafab-never-web\n    - contents: x\n"
# one state per web server of hosts.yaml, and one that names web2's by hand
LB = """\
{%- for name, host in pillar['hosts'].items() if 'web' in host['roles'] %}
reach-{{ name }}:
  cmd.run:
    - name: 'true'
{%- endfor %}
backend-conf:
  file.managed:
    - name: /tmp/hafab-never-lb
    - contents: x
    - KIND:
      - cmd: reach-web2
"""


def build(tmp_path, kind, with_web2):
    files = {"hosts.yaml": HOSTS + (WEB2 if with_web2 else ""), "states/top.sls": TOP,
             "states/web.sls": WEB, "states/lb.sls": LB.replace("KIND", kind)}
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path / "hosts.yaml")


@pytest.mark.parametrize("kind", ["require", "watch", "onchanges", "require_in"])
def test_a_removed_web_named_in_a_requisite_exits_2_and_dials_nothing(tmp_path, listener, kind):  # noqa: F811
    port, accepted = listener
    result = inv("provision", "--inventory", build(tmp_path, kind, with_web2=False),
                 "--ssh-config", ssh_config(tmp_path, port))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stdout + result.stderr
    assert lines == [f"states/lb.sls:6: 'backend-conf' (file.managed name '/tmp/hafab-never-lb'): "
                     f"{kind} {{cmd: reach-web2}} matches no state"]
    assert accepted == [] and result.stdout == ""


def test_the_same_tree_with_the_web_still_there_dials(tmp_path, listener):  # noqa: F811
    port, accepted = listener
    result = inv("provision", "--inventory", build(tmp_path, "require", with_web2=True),
                 "--ssh-config", ssh_config(tmp_path, port))
    assert result.returncode == 1 and accepted   # compiled: it went on to dial (nobody answers SSH there)
