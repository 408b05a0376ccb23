"""verify's gathering without a network: the fact script each role gets, and parsing what it prints."""

import shlex
import subprocess

import pytest

from hafab.cluster import haproxy, inventory, keepalived
from hafab.verify import gather

HOSTS = """\
cluster: {vip: 10.123.0.10, subnet: 10.123.0.0/24, interface: eth1, virtual_router_id: 7}
hosts:
  hap1: {address: 10.123.0.11, roles: [lb], priority: 101}
  web1: {address: 10.123.0.21, roles: [web]}
  web2: {address: 10.123.0.22, roles: [web]}
"""
MARK = "hafab-verify-0123456789abcdef"


@pytest.fixture
def inv(tmp_path):
    (tmp_path / "hosts.yaml").write_text(HOSTS)
    return inventory.load(str(tmp_path / "hosts.yaml"))


def section_names(script):
    return [line.split(None, 1)[1] for line in script.splitlines() if line.startswith("sec ")]


def test_an_lb_script_reads_the_cluster_vocabulary(inv):
    script, token = gather.host_script(inv, inv.hosts["hap1"], MARK, ("10.123.0.1", 40000), "web1")
    assert token.startswith("@@hafab-verify-") and f"T={shlex.quote(token)}" in script
    assert section_names(script) == [
        "units", "addr", "mac", "keepalived", "vrrp_hold", "sysctl", "sysctl_files", "haproxy_check", "pids",
        "frontends", "'page web1'", "'page web2'", "haproxy_log", "end"]
    lines = script.splitlines()
    assert lines[lines.index("sec units") + 1:lines.index("sec addr")] == ["unit haproxy", "unit keepalived"]
    assert f"haproxy -c -f {haproxy.CONFIG} " in script
    assert haproxy.runtime_command("show stat -1 1 -1") in lines
    assert f"if [ -s {keepalived.STATE_FILE} ]" in script
    assert f"{keepalived.held_command()} && echo held" in lines
    assert f"if {keepalived.holds_vip_command('10.123.0.10', 'eth1')}; then n={gather.LOG_WAIT_STEPS}" in script
    assert "CLIENT='10.123.0.1:40000 '" in script and "access.log" not in script


@pytest.mark.parametrize("served, steps", [("web1", gather.LOG_WAIT_STEPS), (None, gather.LOG_WAIT_STEPS),
                                           ("web2", 1)])
def test_a_web_script_waits_for_the_marked_line_only_where_it_was_served(inv, served, steps):
    script, token = gather.host_script(inv, inv.hosts["web1"], MARK, None, served)
    assert section_names(script) == ["web_units", "access_log", "options", "apache_loaded", "utc_offset",
                                            "end"]
    assert "unit apache2" in script.splitlines() and f"wait_for {steps} /var/log/apache2/access.log" in script
    assert f"CLIENT={MARK}" in script   # no client address: the marker alone finds the line


def test_the_script_helpers_print_marked_sections():
    """The script's own `sec` and `unit` functions, run by sh here, parse back (systemctl replaced)."""
    helpers = "\n".join(gather._script_helpers("@@t", MARK, MARK))
    script = ("systemctl() { echo x-$1; }\n" + helpers + "\nsec units\nunit haproxy\nsec 'page web1'\n"
              "echo '<h1>web1</h1>'\nsec end\n")
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=10).stdout
    assert gather.parse_sections(out, "@@t") == {"units": "haproxy x-is-active x-is-enabled",
                                                 "page web1": "<h1>web1</h1>", "end": ""}


def test_sections_split_on_the_token():
    out = "noise\n@@t units\nhaproxy active enabled\n\n@@t addr\n\n@@t end\n"
    assert gather.parse_sections(out, "@@t") == {"units": "haproxy active enabled", "addr": "", "end": ""}


def test_units_parse_into_active_and_enabled():
    assert gather.parse_units("haproxy active enabled\nkeepalived inactive\n\napache2\n") == {
        "haproxy": ("active", "enabled"), "keepalived": ("inactive", "not-found"), "apache2": ("unknown", "not-found")}


@pytest.mark.parametrize("body, state", [("file MASTER 1795612040.52 VI_1 101", "MASTER"),
                                         ("journal Entering BACKUP STATE", "BACKUP"), ("journal ", None)])
def test_keepalived_state_from_file_or_journal(body, state):
    assert gather.parse_keepalived_state(body) == state


class Result:
    def __init__(self, stdout, exit_status=0):
        self.stdout, self.exit_status = stdout, exit_status


class Remote:
    def __init__(self, stdout):
        self.stdout = stdout

    def run(self, script, timeout):
        token = script.split("T=", 1)[1].split("\n", 1)[0]
        return Result(self.stdout.replace("@@TOKEN", token), exit_status=1)


class Done:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


@pytest.mark.parametrize("stdout, error", [("\n@@TOKEN web_units\napache2 active enabled\n@@TOKEN end\n", ""),
                                           ("\n@@TOKEN web_units\n", "web1: fact script stopped early (exit 1)")])
def test_gather_host_needs_the_end_section(inv, stdout, error):
    facts = gather.gather_host(inv, inv.hosts["web1"], Done((Remote(stdout), 0.25, "")), MARK, None, None)
    assert facts.error == error and facts.connect_s == 0.25
    assert facts.sections["web_units"] == ("apache2 active enabled" if not error else "")


def test_gather_host_without_a_connection_keeps_its_error(inv):
    facts = gather.gather_host(inv, inv.hosts["web1"], Done((None, 5.0, "web1: unreachable")), MARK, None, None)
    assert (facts.ok, facts.error, facts.sections) == (False, "web1: unreachable", {})
