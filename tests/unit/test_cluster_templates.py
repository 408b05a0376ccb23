"""The cluster's states and templates (issue 4), compiled for the seed inventory and its variants.

Every rendered configuration is checked with the real tool, run the way its state's `check_cmd` runs
it (the command with the candidate file appended): `haproxy -c -f`, `keepalived -t -f`, `nft -c -f`,
and for Apache the shipped `hafab-apache-configtest` (`apache2 -t` on a copy of the tree). Nothing is
started; only the tools' check modes run.
"""

import ipaddress
import os
import re
import shlex
import shutil
import subprocess

import pytest
import yaml

from hafab.cluster import inventory, minions
from hafab.engine.errors import InputError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = os.path.join(REPO, "hosts.yaml")
APACHE_CHECK = "/usr/local/sbin/hafab-apache-configtest"

VARIANTS = {
    "seed-inventory": {},
    "timings-seed": {"timings": "seed"},
    "persistence-cookie": {"persistence": "cookie"},
    "persistence-source": {"persistence": "source"},
    "mode-tcp": {"mode": "tcp"},
    "mode-tcp-source": {"mode": "tcp", "persistence": "source", "timings": "seed"},
    "block-direct-false": {"block_direct": False},
    "preempt-true": {"preempt": True},
    "metrics-from-network": {"metrics_from": "10.20.0.0/16"},
    "metrics-from-network-tcp": {"metrics_from": "10.20.0.7", "mode": "tcp"},
    "vrrp-unicast": {"vrrp": "unicast"},
    "vrrp-unicast-timings-seed": {"vrrp": "unicast", "timings": "seed"},
    "vrrp-unicast-3-lbs": {"vrrp": "unicast", "extra_lbs": 1},
    "vrrp-unicast-4-lbs-preempt": {"vrrp": "unicast", "extra_lbs": 2, "preempt": True},
    "vrrp-multicast-3-lbs": {"vrrp": "multicast", "extra_lbs": 1},
}

# What the SLS may use (Salt 3008 functions and arguments hafab implements with Salt's meaning).
GLOBAL_ARGS = {"name", "names", "unless", "onlyif", "require", "watch", "onchanges",
               "require_in", "watch_in", "onchanges_in"}
ALLOWED = {
    "pkg.installed": {"pkgs", "refresh"},
    "file.managed": {"source", "contents", "template", "context", "defaults", "user", "group", "mode",
                     "makedirs", "dir_mode", "check_cmd", "tmp_ext", "show_changes"},
    "file.append": {"text"},
    "file.directory": {"user", "group", "mode", "makedirs"},
    "file.absent": set(),
    "sysctl.present": {"value", "config"},
    "service.running": {"enable", "reload"},
    "service.enabled": set(),
    "service.dead": {"enable"},
    "cmd.run": {"cwd", "creates", "env"},
}


def _tool(name):
    for directory in ("/usr/sbin", "/sbin", "/usr/bin", "/bin"):
        if os.access(os.path.join(directory, name), os.X_OK):
            return os.path.join(directory, name)
    return shutil.which(name)


def needs(*tools):
    missing = [t for t in tools if not _tool(t)]
    return pytest.mark.skipif(bool(missing), reason=f"not installed here: {', '.join(missing)}")


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the config checks need root (netlink, users)")


def local_interface():
    """A non-loopback interface of this machine: `keepalived -t` insists that the interface exists."""
    names = sorted(os.listdir("/sys/class/net")) if os.path.isdir("/sys/class/net") else []
    for preferred in ("eth0", "eth1"):
        if preferred in names:
            return preferred
    return next((n for n in names if n != "lo"), None)


def write_inventory(tmp_path, interface=None, extra_lbs=0, **cluster):
    """The seed's hosts.yaml with `cluster` keys changed and `extra_lbs` more LBs (hap3 .13 priority 99, ...)."""
    with open(SEED, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    data["cluster"].update(cluster)
    for i in range(3, 3 + extra_lbs):
        data["hosts"][f"hap{i}"] = {"address": f"192.168.50.{10 + i}", "roles": ["lb"], "priority": 102 - i}
    if interface:
        data["cluster"]["interface"] = interface
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return inventory.load(str(path))


def compile_cluster(tmp_path, interface=None, extra_lbs=0, **cluster):
    """{host: {state id: State}} compiled by hafab's own compiler from this repo's states/ and files/."""
    inv = write_inventory(tmp_path, interface, extra_lbs, **cluster)
    compiled = minions.compile_hosts(inv, root=REPO)
    return inv, {host: {s.id: s for s in states} for host, states in compiled.items()}


def directives(text):
    """The non-comment lines of a config, whitespace-normalised."""
    return [" ".join(line.split()) for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def text_of(states, state_id):
    return states[state_id].prepared["text"]


def run_check(check_cmd, candidate, replacements=(), env=None):
    """Run a state's check_cmd as file.managed does: the command, a space, the candidate's path."""
    command = check_cmd
    for old, new in replacements:
        command = command.replace(old, new)
    command = f"{command} {shlex.quote(str(candidate))}"
    return subprocess.run(command, shell=True, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


# --- what the seed inventory renders to ------------------------------------------------------------

@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    return compile_cluster(tmp_path_factory.mktemp("seed"))


def test_top_assigns_the_seed_roles(seed):
    _, hosts = seed
    assert "/etc/haproxy/haproxy.cfg" in hosts["hap1"] and "/etc/keepalived/keepalived.conf" in hosts["hap2"]
    assert "/var/www/html/index.html" in hosts["web1"] and "/etc/nftables.conf" in hosts["web2"]
    assert "/etc/haproxy/haproxy.cfg" not in hosts["web1"] and "/etc/nftables.conf" not in hosts["hap1"]
    for host in hosts.values():
        assert "hafab-tools" in host


def test_haproxy_cfg_keeps_the_seed_and_adds_the_improvements(seed):
    inv, hosts = seed
    cfg = text_of(hosts["hap1"], "/etc/haproxy/haproxy.cfg")
    for line in ("log 127.0.0.1:514 local0", "maxconn 2000", "option httplog", "option dontlognull",
                 "retries 3", "timeout client 50000ms", "timeout server 50000ms", "frontend http-in",
                 "bind *:80", "default_backend webservers", "backend webservers", "stats enable",
                 "stats uri /haproxy?stats", "balance roundrobin", "option httpchk", "option forwardfor",
                 "option http-server-close",
                 "server web1 192.168.50.21:80 maxconn 32 check",
                 "server web2 192.168.50.22:80 maxconn 32 check",
                 # beyond the seed
                 "option redispatch 1", "retry-on all-retryable-errors", "timeout connect 300ms",
                 "default-server inter 500 fastinter 100 downinter 1s rise 2 fall 2",
                 "stats socket /run/haproxy/admin.sock mode 660 level admin",
                 "monitor-uri /healthz"):
        assert re.search(rf"^\s*{re.escape(line)}\s*$", cfg, re.M), line
    password = open(os.path.join(inv.root, inv.cluster["stats_password_file"])).read().strip()
    assert len(password) >= 24
    assert f"stats auth 'admin:{password}'" in cfg
    assert "admin:admin" not in cfg
    assert "cookie" not in cfg and "send-proxy" not in cfg
    state = hosts["hap1"]["/etc/haproxy/haproxy.cfg"]
    assert state.args["check_cmd"] == "haproxy -c -f"
    assert state.args["mode"] == "0640" and state.args["group"] == "haproxy"


def test_keepalived_conf_from_the_inventory(seed):
    _, hosts = seed
    for host, priority in (("hap1", 101), ("hap2", 100)):
        conf = text_of(hosts[host], "/etc/keepalived/keepalived.conf")
        words = directives(conf)
        # the seed's hosts.yaml sets vrrp: unicast: its own address as the source, the other LB as the peer
        own, peer = ("192.168.50.11", "192.168.50.12") if host == "hap1" else ("192.168.50.12", "192.168.50.11")
        assert f"unicast_src_ip {own}" in words and peer in words and own not in words, (host, words)
        for expected in ("vrrp_version 3", "interface eth1", "state BACKUP", "nopreempt", "virtual_router_id 51",
                         f"priority {priority}", "advert_int 0.1", "192.168.50.10 dev eth1", "chk_haproxy",
                         'script "/etc/keepalived/check_haproxy.sh"', "interval 1", "fall 1", "rise 1",
                         "notify /etc/keepalived/notify.sh root", "notify_deleted", "enable_script_security", f"router_id {host}"):
            assert expected in words, (host, expected)
        assert not [w for w in words if w.startswith("weight")]  # failure = FAULT: the VIP leaves even with nopreempt
        assert "state MASTER" not in words
    check = text_of(hosts["hap1"], "/etc/keepalived/check_haproxy.sh")
    assert "http://127.0.0.1:8405/healthz" in check and "--max-time 0.8" in check
    assert hosts["hap1"]["/etc/keepalived/keepalived.conf"].args["check_cmd"] == "keepalived -t -f"


def test_systemd_binds_keepalived_to_haproxy(seed):
    _, hosts = seed
    lb = hosts["hap1"]
    bind = text_of(lb, "/etc/systemd/system/keepalived.service.d/hafab-bind-haproxy.conf")
    assert re.search(r"^\[Unit\]$", bind, re.M)
    assert re.search(r"^BindsTo=haproxy\.service$", bind, re.M)
    assert re.search(r"^After=haproxy\.service$", bind, re.M)
    wants = text_of(lb, "/etc/systemd/system/haproxy.service.d/hafab-wants-keepalived.conf")
    assert re.search(r"^Wants=keepalived\.service$", wants, re.M)
    reload = lb["systemd-daemon-reload"]
    assert reload.name == "systemctl daemon-reload" and len(reload.onchanges) == 2
    assert lb["net.ipv4.ip_nonlocal_bind"].args == {"value": 1, "config": "/etc/sysctl.d/60-hafab.conf"}


def test_services_reload_on_change_never_restart(seed):
    _, hosts = seed
    for host, service, watched in (("hap1", "haproxy-service", "/etc/haproxy/haproxy.cfg"),
                                   ("hap1", "keepalived-service", "/etc/keepalived/keepalived.conf"),
                                   ("web1", "apache2-service", "/etc/apache2/sites-available/000-default.conf"),
                                   ("web1", "nftables-service", "/etc/nftables.conf")):
        state = hosts[host][service]
        assert state.function == "service.running"
        assert state.args.get("reload") is True and state.args.get("enable") is True, service
        assert any(watched in key for key in state.watch), (service, state.watch)
    # rsyslog has no reload: it restarts, and only when its file changed
    assert hosts["hap1"]["rsyslog-service"].args.get("reload") is None


def test_apache_files(seed):
    _, hosts = seed
    web = hosts["web1"]
    index = text_of(web, "/var/www/html/index.html")
    assert "<title>web1</title>" in index and "<h1>web1</h1>" in index
    assert "Hi sir, I am going to serve you today!" in index
    assert "web2" in text_of(hosts["web2"], "/var/www/html/index.html")
    vhost = text_of(web, "/etc/apache2/sites-available/000-default.conf")
    assert "DocumentRoot /var/www/html" in vhost
    assert "do-not-log-haproxy-ping" in vhost and "env=!do-not-log-haproxy-ping" in vhost
    assert "CustomLog /var/log/apache2/access.log" in vhost and "ErrorLog /var/log/apache2/error.log" in vhost
    assert '"%a ' in vhost  # the client address as mod_remoteip found it
    remoteip = text_of(web, "/etc/apache2/conf-available/remoteip.conf")
    assert "RemoteIPHeader X-Forwarded-For" in remoteip
    assert re.search(r"^RemoteIPInternalProxy 192\.168\.50\.11 192\.168\.50\.12 192\.168\.50\.10$", remoteip, re.M)
    assert "RemoteIPProxyProtocol" not in remoteip and "RemoteIPProxyProtocol" not in vhost
    servername = web["apache2-servername"]
    assert servername.function == "file.append" and servername.name == "/etc/apache2/apache2.conf"
    assert servername.args["text"] == "ServerName localhost"
    for state_id in ("/etc/apache2/sites-available/000-default.conf", "/etc/apache2/conf-available/remoteip.conf"):
        assert web[state_id].args["check_cmd"] == f"{APACHE_CHECK} {state_id}"


def test_firewall_lets_only_the_lbs_reach_http(seed):
    _, hosts = seed
    rules = text_of(hosts["web1"], "/etc/nftables.conf")
    assert "elements = { 192.168.50.11, 192.168.50.12, 192.168.50.10 }" in rules
    assert "tcp dport 22 accept" in rules
    assert "ip saddr @load_balancers accept" in rules and "reject with tcp reset" in rules
    assert "flush ruleset" not in rules  # other tables on the host survive
    assert hosts["web1"]["/etc/nftables.conf"].args["check_cmd"] == "nft -c -f"


def test_logging_to_haproxy_log(seed):
    _, hosts = seed
    conf = text_of(hosts["hap1"], "/etc/rsyslog.d/49-haproxy.conf")
    assert 'input(type="imudp" address="127.0.0.1" port="514"' in conf
    assert 'file="/var/log/haproxy.log"' in conf


# --- variants --------------------------------------------------------------------------------------

def test_timings_seed_restores_the_tutorials_numbers(tmp_path):
    _, hosts = compile_cluster(tmp_path, timings="seed")
    cfg = text_of(hosts["hap1"], "/etc/haproxy/haproxy.cfg")
    assert "timeout connect 5000ms" in cfg and "default-server" not in cfg and "timeout check" not in cfg
    conf = text_of(hosts["hap1"], "/etc/keepalived/keepalived.conf")
    assert re.search(r"^\s*advert_int 1$", conf, re.M) and re.search(r"^\s*vrrp_version 2$", conf, re.M)
    assert re.search(r"^\s*interval 2$", conf, re.M)


def test_persistence_cookie_and_source(tmp_path):
    (tmp_path / "c").mkdir()
    _, hosts = compile_cluster(tmp_path / "c", persistence="cookie")
    cfg = text_of(hosts["hap1"], "/etc/haproxy/haproxy.cfg")
    assert "cookie SERVERID insert indirect nocache" in cfg
    assert "server web1 192.168.50.21:80 maxconn 32 check cookie web1" in cfg
    assert "balance roundrobin" in cfg
    (tmp_path / "s").mkdir()
    _, hosts = compile_cluster(tmp_path / "s", persistence="source")
    cfg = text_of(hosts["hap1"], "/etc/haproxy/haproxy.cfg")
    assert "balance source" in cfg and "hash-type consistent" in cfg and "balance roundrobin" not in cfg


def test_mode_tcp_uses_the_proxy_protocol(tmp_path):
    _, hosts = compile_cluster(tmp_path, mode="tcp")
    cfg = text_of(hosts["hap1"], "/etc/haproxy/haproxy.cfg")
    assert re.search(r"^\s*mode tcp$", cfg, re.M) and "option tcplog" in cfg
    assert "server web1 192.168.50.21:80 maxconn 32 check send-proxy" in cfg
    assert "retry-on" not in cfg and "option forwardfor" not in cfg
    assert "listen stats" in cfg and "stats uri /haproxy?stats" in cfg and "bind *:8404" in cfg
    remoteip = text_of(hosts["web1"], "/etc/apache2/conf-available/remoteip.conf")
    assert "RemoteIPProxyProtocolExceptions 127.0.0.1 ::1" in remoteip and "RemoteIPHeader" not in remoteip
    # mod_remoteip enables the PROXY protocol for the addresses of the server it is set in: the main
    # server has none while the configuration is read, so it must be inside the VirtualHost
    vhost = text_of(hosts["web1"], "/etc/apache2/sites-available/000-default.conf")
    inside = vhost[vhost.index("<VirtualHost *:80>"):vhost.index("</VirtualHost>")]
    assert "\nRemoteIPProxyProtocol On\n" in inside


def test_cookie_persistence_needs_http(tmp_path):
    with pytest.raises(InputError) as info:
        compile_cluster(tmp_path, mode="tcp", persistence="cookie")
    assert "hosts.yaml: cluster.persistence: 'cookie' needs cluster.mode: http" in str(info.value)


def test_block_direct_false_opens_http(tmp_path):
    _, hosts = compile_cluster(tmp_path, block_direct=False)
    rules = text_of(hosts["web1"], "/etc/nftables.conf")
    assert "reject" not in rules and "load_balancers" not in rules and "tcp dport 22 accept" in rules
    assert "table inet hafab {" in rules


def test_preempt_true_starts_the_highest_priority_as_master(tmp_path):
    _, hosts = compile_cluster(tmp_path, preempt=True)
    hap1 = text_of(hosts["hap1"], "/etc/keepalived/keepalived.conf")
    hap2 = text_of(hosts["hap2"], "/etc/keepalived/keepalived.conf")
    assert "state MASTER" in directives(hap1) and "state BACKUP" in directives(hap2)
    assert "nopreempt" not in directives(hap1) + directives(hap2)


def unicast_block(words):
    """(unicast_src_ip's address, [peers]) from a keepalived.conf's directives, or (None, None)."""
    sources = [w.split()[1] for w in words if w.startswith("unicast_src_ip ")]
    if not sources:
        return None, None
    start = words.index("unicast_peer {")
    return sources[0], words[start + 1:words.index("}", start)]


@pytest.mark.parametrize("extra_lbs,expected", [
    (0, {"hap1": ("192.168.50.11", ["192.168.50.12"]), "hap2": ("192.168.50.12", ["192.168.50.11"])}),
    (1, {"hap1": ("192.168.50.11", ["192.168.50.12", "192.168.50.13"]),
         "hap2": ("192.168.50.12", ["192.168.50.11", "192.168.50.13"]),
         "hap3": ("192.168.50.13", ["192.168.50.11", "192.168.50.12"])}),
])
def test_vrrp_unicast_names_each_lbs_own_address_and_its_peers(tmp_path, extra_lbs, expected):
    _, hosts = compile_cluster(tmp_path, extra_lbs=extra_lbs, vrrp="unicast")
    found = {}
    for lb in expected:
        words = directives(text_of(hosts[lb], "/etc/keepalived/keepalived.conf"))
        found[lb] = unicast_block(words)
        assert "check_unicast_src" in words, lb
    assert found == expected
    assert "/etc/keepalived/keepalived.conf" not in hosts["web1"]


@pytest.mark.parametrize("vrrp,extra_lbs", [("multicast", 0), ("multicast", 1), ("unicast", -1)])
def test_vrrp_without_unicast_peers(tmp_path, vrrp, extra_lbs):
    """multicast (any number of LBs), and unicast with a single LB (nobody to send adverts to): no unicast lines."""
    if extra_lbs < 0:
        with open(SEED, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
        del data["hosts"]["hap2"]
        data["cluster"]["vrrp"] = vrrp
        (tmp_path / "hosts.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
        inv = inventory.load(str(tmp_path / "hosts.yaml"))
        hosts = {h: {s.id: s for s in states} for h, states in minions.compile_hosts(inv, root=REPO).items()}
    else:
        _, hosts = compile_cluster(tmp_path, extra_lbs=extra_lbs, vrrp=vrrp)
    for lb in (name for name in hosts if name.startswith("hap")):
        words = directives(text_of(hosts[lb], "/etc/keepalived/keepalived.conf"))
        assert unicast_block(words) == (None, None) and "check_unicast_src" not in words, (lb, words)


def test_more_hosts_come_from_the_inventory(tmp_path):
    """Nothing about the seed is hard-coded: a third web server and LB appear everywhere."""
    with open(SEED, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    data["hosts"]["web3"] = {"address": "192.168.50.23", "roles": ["web"]}
    data["hosts"]["hap3"] = {"address": "192.168.50.13", "roles": ["lb"], "priority": 99}
    data["cluster"]["vrrp"] = "unicast"
    (tmp_path / "hosts.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    inv = inventory.load(str(tmp_path / "hosts.yaml"))
    hosts = {h: {s.id: s for s in states} for h, states in minions.compile_hosts(inv, root=REPO).items()}
    cfg = text_of(hosts["hap3"], "/etc/haproxy/haproxy.cfg")
    assert "server web3 192.168.50.23:80 maxconn 32 check" in cfg
    conf = text_of(hosts["hap1"], "/etc/keepalived/keepalived.conf")
    assert "192.168.50.12" in conf and "192.168.50.13" in conf
    assert "elements = { 192.168.50.11, 192.168.50.12, 192.168.50.13, 192.168.50.10 }" in text_of(hosts["web3"], "/etc/nftables.conf")


# --- the real tools on every variant ----------------------------------------------------------------

@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param)
    inv, hosts = compile_cluster(tmp, interface=local_interface(), **VARIANTS[request.param])
    return request.param, tmp, inv, hosts


@needs_root
@needs("haproxy")
def test_haproxy_accepts_every_variant(variant):
    name, tmp, inv, hosts = variant
    for lb in (h.name for h in inv.lbs()):
        state = hosts[lb]["/etc/haproxy/haproxy.cfg"]
        candidate = tmp / f"{lb}-haproxy.cfg"
        candidate.write_text(state.prepared["text"])
        result = run_check(state.args["check_cmd"], candidate)
        out = result.stdout + result.stderr
        assert result.returncode == 0, (name, lb, out)
        assert "[WARNING]" not in out and "[ALERT]" not in out, (name, lb, out)


@needs_root
@needs("keepalived")
def test_keepalived_accepts_every_variant(variant):
    """`keepalived -t` checks the interface and the scripts exist: the variant uses a local interface
    and the scripts rendered into a temporary directory."""
    name, tmp, inv, hosts = variant
    if not local_interface():
        pytest.skip("no non-loopback interface here")
    for lb in (h.name for h in inv.lbs()):
        scripts = tmp / f"{lb}-keepalived"
        scripts.mkdir(exist_ok=True)
        for script in ("check_haproxy.sh", "notify.sh"):
            path = scripts / script
            path.write_text(text_of(hosts[lb], f"/etc/keepalived/{script}"))
            path.chmod(0o755)
        state = hosts[lb]["/etc/keepalived/keepalived.conf"]
        candidate = tmp / f"{lb}-keepalived.conf"
        candidate.write_text(state.prepared["text"].replace("/etc/keepalived/", f"{scripts}/"))
        result = run_check(state.args["check_cmd"], candidate)
        assert result.returncode == 0, (name, lb, result.stdout + result.stderr)
        assert result.stdout + result.stderr == "", (name, lb, result.stdout + result.stderr)


@needs_root
@needs("nft")
def test_nft_accepts_every_variant(variant):
    name, tmp, inv, hosts = variant
    for web in (h.name for h in inv.webs()):
        state = hosts[web]["/etc/nftables.conf"]
        candidate = tmp / f"{web}-nftables.conf"
        candidate.write_text(state.prepared["text"])
        result = run_check(state.args["check_cmd"], candidate)
        assert result.returncode == 0, (name, web, result.stdout + result.stderr)


def apache_tree(tmp):
    """A copy of this machine's /etc/apache2 to stand for a web server's, as the states leave it
    before the checked files: remoteip enabled, ServerName appended."""
    tree = tmp / "apache2"
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree("/etc/apache2", tree, symlinks=True)
    load = tree / "mods-enabled" / "remoteip.load"
    if not load.exists():
        load.symlink_to("../mods-available/remoteip.load")
    with open(tree / "apache2.conf", "a", encoding="utf-8") as fh:
        fh.write("ServerName localhost\n")
    return tree


def apache_check(state, candidate, tree):
    script = os.path.join(REPO, "files", "apache", "configtest.sh")
    return run_check(state.args["check_cmd"], candidate,
                     replacements=((APACHE_CHECK, script), ("/etc/apache2", str(tree))),
                     env={"APACHE_CONFDIR": str(tree)})


@needs_root
@needs("apache2")
def test_apache_accepts_every_variant(variant):
    """Each Apache file is checked in the states' order, then put in place as the state would."""
    name, tmp, inv, hosts = variant
    for web in (h.name for h in inv.webs()):
        tree = apache_tree(tmp / web)
        for state_id, rel, enabled in (
                ("/etc/apache2/conf-available/remoteip.conf", "conf-available/remoteip.conf",
                 "conf-enabled/remoteip.conf"),
                ("/etc/apache2/sites-available/000-default.conf", "sites-available/000-default.conf",
                 "sites-enabled/000-default.conf")):
            state = hosts[web][state_id]
            # hafab writes the candidate beside the live file (a hidden temp file), Salt in /tmp
            candidate = tree / os.path.dirname(rel) / ".hafab-candidate.conf"
            candidate.write_text(state.prepared["text"])
            result = apache_check(state, candidate, tree)
            out = result.stdout + result.stderr
            assert result.returncode == 0, (name, web, state_id, out)
            assert "Syntax OK" in out and "AH0" not in out, (name, web, state_id, out)
            candidate.rename(tree / rel)
            if not (tree / enabled).exists():
                (tree / enabled).symlink_to("../" + rel)


# --- a broken candidate is refused and the live file is left alone -----------------------------------

@needs_root
@needs("haproxy", "nft", "apache2", "keepalived")
def test_check_cmds_refuse_broken_content(seed, tmp_path):
    _, hosts = seed
    cases = [
        (hosts["hap1"]["/etc/haproxy/haproxy.cfg"], "backend webservers\n    balance nonsense\n", ()),
        (hosts["hap1"]["/etc/keepalived/keepalived.conf"], "vrrp_instance VI_1 {\n virtual_router_id 300\n}\n", ()),
        (hosts["web1"]["/etc/nftables.conf"], "table inet hafab { chain input { bogus } }\n", ()),
    ]
    for state, broken, replacements in cases:
        candidate = tmp_path / "broken"
        candidate.write_text(broken)
        assert run_check(state.args["check_cmd"], candidate, replacements).returncode != 0, state.id
    tree = apache_tree(tmp_path)
    live = (tree / "sites-available" / "000-default.conf").read_text()
    candidate = tmp_path / "broken.conf"
    candidate.write_text("<VirtualHost *:80>\nNoSuchDirective on\n</VirtualHost>\n")
    result = apache_check(hosts["web1"]["/etc/apache2/sites-available/000-default.conf"], candidate, tree)
    assert result.returncode != 0 and "NoSuchDirective" in result.stdout + result.stderr
    assert (tree / "sites-available" / "000-default.conf").read_text() == live
    # remoteip directives without the module loaded are refused too
    (tree / "mods-enabled" / "remoteip.load").unlink()
    candidate.write_text(text_of(hosts["web1"], "/etc/apache2/conf-available/remoteip.conf"))
    result = apache_check(hosts["web1"]["/etc/apache2/conf-available/remoteip.conf"], candidate, tree)
    assert result.returncode != 0
    assert not (tree / "conf-enabled" / "remoteip.conf").exists()


# --- the SLS stay within what Salt 3008 and hafab both support --------------------------------------

def test_sls_use_only_supported_functions_and_stay_idempotent(seed):
    _, hosts = seed
    for host, states in hosts.items():
        for state in states.values():
            assert state.function in ALLOWED, (host, state.id, state.function)
            extra = set(state.args) - ALLOWED[state.function] - GLOBAL_ARGS
            assert not extra, (host, state.id, extra)
            if state.function == "cmd.run":
                # a bare cmd.run reports changes on every run: the second provision must report 0
                assert state.args.get("creates") or state.onchanges or state.args.get("unless") \
                    or state.args.get("onlyif"), (host, state.id)
            if state.function == "file.managed" and "mode" in state.args:
                assert isinstance(state.args["mode"], str), (host, state.id)


def test_shell_scripts_parse(seed):
    _, hosts = seed
    scripts = [text_of(hosts["hap1"], "/etc/keepalived/check_haproxy.sh"),
               text_of(hosts["hap1"], "/etc/keepalived/notify.sh"),
               text_of(hosts["web1"], "/usr/local/sbin/hafab-apache-configtest")]
    for text in scripts:
        assert text.startswith("#!/bin/sh\n")
        result = subprocess.run(["sh", "-n"], input=text, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_inventory_addresses_are_the_only_addresses(seed):
    """Every IPv4 address in a rendered file is one of hosts.yaml's (or loopback)."""
    inv, hosts = seed
    known = {h.address for h in inv.hosts.values()} | {inv.cluster["vip"], inv.cluster["metrics_from"], "127.0.0.1"}
    for host, states in hosts.items():
        for state in states.values():
            for address in re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", state.prepared.get("text", "")):
                ipaddress.IPv4Address(address)
                assert address in known, (host, state.id, address)


# --- the keepalived scripts, run here (loopback only) -------------------------------------------------

def test_notify_script_records_state_and_transitions(seed, tmp_path):
    _, hosts = seed
    script = tmp_path / "notify.sh"
    script.write_text(text_of(hosts["hap1"], "/etc/keepalived/notify.sh"))
    script.chmod(0o755)
    bin_dir = tmp_path / "bin"  # a silent logger: nothing goes to this machine's log
    bin_dir.mkdir()
    (bin_dir / "logger").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "logger").chmod(0o755)
    env = {**os.environ, "HAFAB_STATE_DIR": str(tmp_path / "state"),
           "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    # DELETED: the instance a reload replaced (notify_deleted), reported after the new one's own state
    for state in ("BACKUP", "MASTER", "DELETED"):
        result = subprocess.run([str(script), "INSTANCE", "VI_1", state, "101"], env=env,
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
    current = (tmp_path / "state" / "state").read_text().split()
    assert current[0] == "MASTER" and current[2:] == ["VI_1", "101"] and float(current[1]) > 1.7e9
    transitions = (tmp_path / "state" / "transitions").read_text().splitlines()
    assert [line.split()[0] for line in transitions] == ["BACKUP", "MASTER", "DELETED"]
    assert float(transitions[0].split()[1]) <= float(transitions[1].split()[1])


@needs("curl")
def test_check_script_follows_haproxys_monitor_uri(tmp_path):
    """The check script asks 127.0.0.1:<haproxy_health_port>/healthz (a host var may move the port):
    0 while something answers 200 there, non-zero when nothing listens or it answers 503."""
    import http.server
    import socket
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        status = 200

        def do_GET(self):  # noqa: N802
            self.send_response(Handler.status if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    with open(SEED, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    data["hosts"]["hap1"]["vars"] = {"haproxy_health_port": port}
    (tmp_path / "hosts.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    inv = inventory.load(str(tmp_path / "hosts.yaml"))
    states = {s.id: s for s in minions.compile_host(inv, "hap1", root=REPO)}
    assert f"bind 127.0.0.1:{port}" in text_of(states, "/etc/haproxy/haproxy.cfg")
    script = tmp_path / "check_haproxy.sh"
    script.write_text(text_of(states, "/etc/keepalived/check_haproxy.sh"))
    script.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert subprocess.run([str(script)], env=env, timeout=30).returncode == 0
        Handler.status = 503
        assert subprocess.run([str(script)], env=env, timeout=30).returncode != 0
    finally:
        server.shutdown()
        server.server_close()
    with socket.socket() as sock:  # nothing listens on the port any more
        assert sock.connect_ex(("127.0.0.1", port)) != 0
    assert subprocess.run([str(script)], env=env, timeout=30).returncode != 0
