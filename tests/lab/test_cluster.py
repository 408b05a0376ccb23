"""The seed cluster built by `inv provision` on a fresh lab: converges once, stays converged, serves
round-robin through the VIP, refuses direct access, reloads on a template change, refuses a broken config."""

import json
import os
import time
import urllib.request

import pytest

from hafab.cluster import haproxy
from hafab.lab import netguard

pytestmark = pytest.mark.lab


def changed(doc):
    return sorted((host, ret["__id__"]) for host, results in doc["hosts"].items()
                  for ret in results.values() if ret["changes"])


def http_get(cluster, address, timeout=2):
    """GET / on a lab address from this machine, only through the lab bridge."""
    netguard.require_lab_route(address, cluster_bridge(cluster))
    with urllib.request.urlopen(f"http://{address}/", timeout=timeout) as response:
        return response.status, response.read().decode()


def cluster_bridge(cluster):
    from hafab import lab
    return lab.bridge_name(cluster.inventory)


def haproxy_pid(cluster, host):
    return cluster.ssh(host, "systemctl show -p MainPID --value haproxy").stdout.strip()


def test_first_provision_changed_things_and_succeeded(cluster):
    doc = cluster.first_provision
    assert doc["summary"]["failed"] == 0 and not doc["errors"]
    assert doc["summary"]["changed"] > 20
    assert {host for host, _ in changed(doc)} == {"hap1", "hap2", "web1", "web2"}


def test_second_provision_reports_zero_changed(cluster):
    result = cluster.inv("provision", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["summary"]["changed"] == 0, changed(doc)
    assert doc["summary"]["failed"] == 0


def wait_backends_up(cluster, seconds=15):
    """Health checks need a moment after a fresh provision (rise 2): wait, bounded, until both are UP."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        stat = cluster.ssh("hap1", "echo 'show stat' | socat stdio /run/haproxy/admin.sock").stdout
        up = {row["svname"] for row in haproxy.parse_stats_csv(stat)
              if row["pxname"] == "webservers" and row["svname"].startswith("web") and row["status"] == "UP"}
        if up == {"web1", "web2"}:
            return
        time.sleep(0.3)
    raise AssertionError(f"backends not both UP within {seconds} s: {stat}")


def test_vip_alternates_between_the_web_servers(cluster):
    vip = cluster.inventory.cluster["vip"]
    wait_backends_up(cluster)
    served = []
    for _ in range(6):
        status, body = http_get(cluster, vip)
        assert status == 200 and "Hi sir, I am going to serve you today!" in body
        served.append("web1" if "<h1>web1</h1>" in body else "web2" if "<h1>web2</h1>" in body else body)
    assert served[0::2] == [served[0]] * 3 and served[1::2] == [served[1]] * 3
    assert {served[0], served[1]} == {"web1", "web2"}


def test_direct_requests_to_web_servers_are_refused(cluster):
    for web in ("web1", "web2"):
        with pytest.raises(OSError):
            http_get(cluster, cluster.address(web), timeout=2)
        # ...while the load balancers still reach them.
        from_lb = cluster.ssh("hap1", f"curl -s -m 2 http://{cluster.address(web)}/")
        assert f"<h1>{web}</h1>" in from_lb.stdout


def _edit(cluster, relpath, old, new):
    path = os.path.join(cluster.root, relpath)
    with open(path) as f:
        text = f.read()
    assert old in text
    with open(path, "w") as f:
        f.write(text.replace(old, new, 1))
    return path, text


def test_template_change_changes_one_file_and_reloads_haproxy(cluster):
    pids = {lb: haproxy_pid(cluster, lb) for lb in ("hap1", "hap2")}
    path, original = _edit(cluster, "files/haproxy/haproxy.cfg", "\nfrontend", "\n# changed by a test\nfrontend")
    try:
        result = cluster.inv("provision", "--json")
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        for lb in ("hap1", "hap2"):
            rets = {ret["__id__"]: ret for ret in doc["hosts"][lb].values() if ret["changes"]}
            assert set(rets) == {"/etc/haproxy/haproxy.cfg", "haproxy-service"}, rets.keys()
            assert "+# changed by a test" in rets["/etc/haproxy/haproxy.cfg"]["changes"]["diff"]
            assert rets["haproxy-service"]["comment"] == "Service reloaded"
            assert haproxy_pid(cluster, lb) == pids[lb]  # reloaded, not restarted
        assert changed(doc) == sorted([(lb, i) for lb in ("hap1", "hap2")
                                       for i in ("/etc/haproxy/haproxy.cfg", "haproxy-service")])
    finally:
        with open(path, "w") as f:
            f.write(original)
        assert cluster.inv("provision").returncode == 0


BROKEN_CONFIGS = [
    # (template, text to break it, host, live file, service, words of the validator's own message)
    ("files/haproxy/haproxy.cfg", ("\nfrontend", "\nthis-is-not-a-keyword\nfrontend"), "hap1",
     "/etc/haproxy/haproxy.cfg", "haproxy", "unknown keyword"),
    ("files/keepalived/keepalived.conf", ("    virtual_router_id {{", "    virtual_router_id 9{{"), "hap1",
     "/etc/keepalived/keepalived.conf", "keepalived", "outside range"),
    ("files/apache/000-default.conf", ("<VirtualHost", "ThisIsNotADirective on\n<VirtualHost"), "web1",
     "/etc/apache2/sites-available/000-default.conf", "apache2", "Invalid command"),
]


def main_pid(cluster, host, service):
    return cluster.ssh(host, f"systemctl show -p MainPID --value {service}").stdout.strip()


@pytest.mark.parametrize("template,breakage,host,live,service,words", BROKEN_CONFIGS,
                         ids=["haproxy.cfg", "keepalived.conf", "apache vhost"])
def test_an_invalid_config_fails_its_state_and_leaves_the_live_one_and_the_service_alone(
        cluster, template, breakage, host, live, service, words):
    before = cluster.ssh(host, f"sha256sum {live}").stdout
    pid = main_pid(cluster, host, service)
    path, original = _edit(cluster, template, *breakage)
    try:
        result = cluster.inv("provision", "--hosts", host, "--json")
        assert result.returncode == 1
        rets = {ret["__id__"]: ret for ret in json.loads(result.stdout)["hosts"][host].values()}
        state = rets[live]
        assert state["result"] is False and "check_cmd" in state["comment"]
        assert words in state["comment"], state["comment"]  # the validator's own message
        dependents = [r for r in rets.values() if r["comment"].startswith("One or more requisite failed")]
        assert dependents and all(r["result"] is False and not r["changes"] for r in dependents)
        assert cluster.ssh(host, f"sha256sum {live}").stdout == before
        assert main_pid(cluster, host, service) == pid
        assert ".hafab-" not in cluster.ssh(host, f"ls -a $(dirname {live})").stdout
    finally:
        with open(path, "w") as f:
            f.write(original)
    assert cluster.inv("provision", "--hosts", host).returncode == 0


def test_a_stopped_host_is_reported_and_the_others_are_provisioned(cluster):
    path, original = _edit(cluster, "files/apache/index.html", "</body>", "<!-- while web2 is off -->\n</body>")
    try:
        assert cluster.inv("lab.stop", "web2").returncode == 0
        result = cluster.inv("provision", "--roles", "web", "--json")
        assert result.returncode == 1
        doc = json.loads(result.stdout)
        assert "web2" in doc["errors"] and "unreachable" in doc["errors"]["web2"]
        assert any(ret["changes"] for ret in doc["hosts"]["web1"].values())
        assert "while web2 is off" in cluster.ssh("web1", "cat /var/www/html/index.html").stdout
    finally:
        with open(path, "w") as f:
            f.write(original)
        assert cluster.inv("lab.start", "web2").returncode == 0
    assert cluster.inv("provision").returncode == 0


def test_stats_password_is_secret(cluster):
    secret_file = os.path.join(cluster.root, ".secrets", "stats-password")
    assert oct(os.stat(secret_file).st_mode & 0o777) == "0o600"
    password = open(secret_file).read().strip()
    assert len(password) >= 24
    assert password not in json.dumps(cluster.first_provision)
    cfg = cluster.ssh("hap1", "cat /etc/haproxy/haproxy.cfg").stdout
    assert password in cfg and "admin:admin" not in cfg
    mode = cluster.ssh("hap1", "stat -c %a /etc/haproxy/haproxy.cfg").stdout.strip()
    assert mode == "640"
