"""The cluster's vocabulary (hafab/cluster/roles, haproxy, keepalived) is pinned to the files that use it.

Rename the backend or the admin socket in files/haproxy/haproxy.cfg, the state file in notify.sh, the
hold file in keepalived.conf, or add
a package to a state that the lab's offline repository lacks, and one of these fails.
"""

import os
import re

import pytest

from hafab.cluster import haproxy, keepalived, roles
from hafab.cluster.inventory import Host
from hafab.lab import base
from test_cluster_templates import REPO, compile_cluster, directives, text_of


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    return compile_cluster(tmp_path_factory.mktemp("vocabulary"))


def test_backend_and_socket_are_the_templates(seed):
    _, hosts = seed
    lines = directives(text_of(hosts["hap1"], "/etc/haproxy/haproxy.cfg"))
    assert f"backend {haproxy.BACKEND}" in lines
    assert f"default_backend {haproxy.BACKEND}" in lines
    sockets = [line.split()[2] for line in lines if line.startswith("stats socket ") and "level admin" in line]
    assert sockets == [haproxy.ADMIN_SOCKET]
    servers = [line.split()[1] for line in lines if line.startswith("server ")]
    assert servers == ["web1", "web2"]


def test_haproxy_state_manages_the_config_path(seed):
    _, hosts = seed
    assert haproxy.CONFIG in hosts["hap1"]


def test_keepalived_state_manages_the_config_path(seed):
    _, hosts = seed
    assert keepalived.CONFIG in hosts["hap1"]


def test_hold_file_is_the_track_file_every_instance_tracks(seed):
    _, hosts = seed
    text = text_of(hosts["hap1"], keepalived.CONFIG)
    tracked = re.search(r"vrrp_track_file (\w+) \{\s*file (\S+)\s*\}", text)
    assert tracked and tracked.group(2) == keepalived.HOLD_FILE
    instance = text[text.index("vrrp_instance "):]
    assert re.search(r"track_file \{\s*%s weight 0\s*\}" % tracked.group(1), instance)


def test_state_file_is_the_notify_scripts():
    with open(os.path.join(REPO, "files", "keepalived", "notify.sh"), encoding="utf-8") as fh:
        script = fh.read()
    directory = re.search(r"dir=\$\{HAFAB_STATE_DIR:-([^}]+)\}", script).group(1)
    assert re.search(r'mv -f "\$dir/state\.tmp" "\$dir/state"', script)
    assert keepalived.STATE_FILE == f"{directory}/state"


def test_units_per_role_are_the_services_the_states_run(seed):
    _, hosts = seed
    for name, states in hosts.items():
        running = {s.name for s in states.values() if s.function == "service.running"}
        host = Host(name, "192.0.2.1", ["lb"] if name.startswith("hap") else ["web"])
        assert set(roles.units(host)) <= running, name


def test_lab_base_carries_every_package_the_states_install(seed):
    _, hosts = seed
    wanted = {p for states in hosts.values() for s in states.values() if s.function == "pkg.installed"
              for p in s.prepared["pkgs"]}
    assert wanted, "the states install packages"
    assert wanted <= set(base.CLUSTER_PACKAGES) | set(base.BASE_PACKAGES), \
        f"missing from hafab/lab/base.py CLUSTER_PACKAGES: {sorted(wanted - set(base.CLUSTER_PACKAGES))}"


@pytest.mark.parametrize("host_roles, units, serving, group", [
    (["lb"], ["haproxy", "keepalived"], ["haproxy"], "lb"),
    (["web"], ["apache2"], ["apache2"], "web"),
    (["web", "lb"], ["haproxy", "keepalived", "apache2"], ["haproxy", "apache2"], "lb"),
    (["db"], [], [], None),
])
def test_units_of_a_host(host_roles, units, serving, group):
    host = Host("h", "192.0.2.1", host_roles)
    assert roles.units(host) == units
    assert roles.serving_units(host) == serving
    assert roles.group(host) == group


@pytest.mark.parametrize("output, holds", [
    ("2: eth1    inet 192.168.50.10/32 scope global eth1", True),
    ("2: eth1    inet 192.168.50.100/24 scope global eth1", False),
    ("", False),
])
def test_holds_vip(output, holds):
    assert keepalived.holds_vip(output, "192.168.50.10") is holds


def test_server_row_finds_only_the_web_backend():
    text = ("# pxname,svname,scur,status\nhttp-in,FRONTEND,0,OPEN\n"
            f"{haproxy.BACKEND},web1,0,UP\nother,web1,5,DOWN\n{haproxy.BACKEND},BACKEND,0,UP\n")
    rows = haproxy.parse_stats_csv(text)
    assert haproxy.server_row(rows, "web1")["status"] == "UP"
    assert haproxy.server_row(rows, "web9") is None
    assert set(haproxy.server_rows(rows)) == {"web1"}
