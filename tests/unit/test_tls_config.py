"""cluster.tls and cluster.http rendered (issue 17): the seed (tls: none) renders no TLS at all; with TLS the
LBs get the pem as a root-only secret file that no diff shows and whose change reloads haproxy, and
haproxy.cfg binds 443 with TLS 1.2+ and does what cluster.http says on port 80 -- each variant accepted by
the real `haproxy -c` (the pem path pointed at the rendered pem). The key is registered for redaction.
"""

import os
import subprocess

import pytest

from hafab.cluster import certs, haproxy, minions, tls
from hafab.engine import redact
from hafab.engine.errors import InputError
from tests.unit.test_cluster_templates import REPO, directives, needs, needs_root, write_inventory

PEM_STATE = haproxy.TLS_PEM


def compiled(tmp_path, **cluster):
    inv = write_inventory(tmp_path, **cluster)
    return inv, {host: {s.id: s for s in states} for host, states in minions.compile_hosts(inv, root=REPO).items()}


def test_the_seed_renders_no_tls(tmp_path):
    inv, hosts = compiled(tmp_path)
    assert inv.cluster["tls"] == "none" and inv.cluster["http"] == "serve"
    config = hosts["hap1"]["/etc/haproxy/haproxy.cfg"].prepared["text"]
    assert "ssl" not in config and "443" not in config and "X-Forwarded-Proto" not in config
    assert "tls_pem" not in minions.pillar(inv, inv.hosts["hap1"])
    # a pem left from when TLS was on is removed, after haproxy reloaded without it; webs have none
    pem = hosts["hap1"][PEM_STATE]
    service = hosts["hap1"]["haproxy-service"]
    assert pem.function == "file.absent" and pem.require == [service.key], (pem.function, pem.require)
    assert PEM_STATE not in hosts["web1"]
    assert [d for d in directives(config) if d.startswith("bind *:")] == ["bind *:80"]
    assert not os.path.exists(tmp_path / ".secrets" / "tls")


@pytest.mark.parametrize("http, port80, wanted, unwanted", [
    ("redirect", True, ["http-request redirect scheme https code 301 if !{ ssl_fc }",
                        'http-response set-header Strict-Transport-Security "max-age=31536000" if { ssl_fc }'],
     ["path_beg /haproxy"]),
    ("serve", True, ["http-request redirect scheme https code 301 if !{ ssl_fc } { path_beg /haproxy }"],
     ["Strict-Transport-Security"]),
    ("off", False, [], ["redirect", "Strict-Transport-Security"]),
])
def test_tls_renders_443_and_port_80_as_cluster_http_says(tmp_path, http, port80, wanted, unwanted):
    inv, hosts = compiled(tmp_path, tls="self-signed", http=http)
    lines = directives(hosts["hap1"]["/etc/haproxy/haproxy.cfg"].prepared["text"])
    binds = [d for d in lines if d.startswith("bind *:")]
    assert binds == (["bind *:80"] if port80 else []) + [f"bind *:443 ssl crt {haproxy.TLS_PEM} alpn http/1.1"]
    assert "ssl-default-bind-options ssl-min-ver TLSv1.2" in lines
    assert f"ssl-default-bind-ciphers {tls.CIPHERS_TLS12}" in lines
    assert f"ssl-default-bind-ciphersuites {tls.CIPHERSUITES_TLS13}" in lines
    assert "option forwardfor" in lines and "http-request set-header X-Forwarded-Proto https if { ssl_fc }" in lines
    for line in wanted:
        assert line in lines
    for word in unwanted:
        assert not any(word in line for line in lines), word
    assert all(":443" not in d for d in lines if d.startswith("server "))   # the web servers stay plain HTTP


def test_the_pem_is_a_root_only_secret_file_that_reloads_haproxy(tmp_path):
    inv, hosts = compiled(tmp_path, tls="self-signed")
    state = hosts["hap1"][PEM_STATE]
    assert (state.args["mode"], state.args["user"], state.args["group"]) == ("0600", "root", "root")
    assert state.args["dir_mode"] == "0700" and state.args["show_changes"] is False
    paths = certs.self_signed(os.path.join(inv.root, tls.SELF_SIGNED_DIR), inv.cluster["vip"], inv.cluster["name"])
    with open(paths["server.pem"]) as c, open(paths["server.key"]) as k:
        cert, key = c.read(), k.read()
    assert state.prepared["text"] == cert + key
    watched = hosts["hap1"]["haproxy-service"].watch
    assert any(PEM_STATE in w for w in watched)
    assert PEM_STATE not in hosts["web1"]
    for line in key.splitlines()[1:-1]:
        assert redact.redact(f"x {line} y") == f"x {redact.MASK} y"


def test_a_provision_after_the_pair_is_removed_issues_a_new_one_from_the_same_ca(tmp_path):
    inv, hosts = compiled(tmp_path, tls="self-signed")
    directory = os.path.join(inv.root, tls.SELF_SIGNED_DIR)
    with open(os.path.join(directory, "ca.pem")) as fh:
        ca = fh.read()
    first = hosts["hap1"][PEM_STATE].prepared["text"]
    for name in ("server.pem", "server.key"):
        os.unlink(os.path.join(directory, name))
    _, again = compiled(tmp_path, tls="self-signed")
    assert again["hap1"][PEM_STATE].prepared["text"] != first
    with open(os.path.join(directory, "ca.pem")) as fh:
        assert fh.read() == ca
    paths = {name: os.path.join(directory, name) for name in certs.FILES}
    certs.check_pair(paths["server.pem"], paths["server.key"], inv.cluster["vip"], inv.cluster["name"])


@needs_root
@needs("haproxy")
@pytest.mark.parametrize("http", ["redirect", "serve", "off"])
def test_haproxy_accepts_the_tls_config(tmp_path, http):
    inv, hosts = compiled(tmp_path, tls="self-signed", http=http)
    for lb in ("hap1", "hap2"):
        pem = tmp_path / f"{lb}.pem"
        pem.write_text(hosts[lb][PEM_STATE].prepared["text"])
        os.chmod(pem, 0o600)
        config = tmp_path / f"{lb}.cfg"
        config.write_text(hosts[lb]["/etc/haproxy/haproxy.cfg"].prepared["text"].replace(haproxy.TLS_PEM, str(pem)))
        result = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True, timeout=60)
        out = result.stdout + result.stderr
        assert result.returncode == 0 and "[WARNING]" not in out and "[ALERT]" not in out, out


@pytest.mark.parametrize("cluster, words", [
    ({"tls": "on"}, "cluster.tls: 'on' must be one of none, self-signed, files"),
    ({"tls": "self-signed", "http": "https"}, "cluster.http: 'https' must be one of redirect, serve, off"),
    ({"http": "off"}, "cluster.http: 'off' needs cluster.tls"),
    ({"tls": "files"}, "cluster.tls_cert: missing (required with cluster.tls: files)"),
    ({"tls": "files", "tls_cert": "states/x.pem", "tls_key": "k"}, "cluster.tls_cert: 'states/x.pem' lies in states/"),
    ({"tls_key": "k.pem"}, "cluster.tls_key: only used with cluster.tls: files"),
    ({"tls": "self-signed", "mode": "tcp"}, "cluster.tls: HAProxy terminates TLS in cluster.mode: http only"),
])
def test_bad_tls_settings_are_one_line(tmp_path, cluster, words):
    with pytest.raises(InputError) as caught:
        write_inventory(tmp_path, **cluster)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_host_vars_cannot_shadow_the_tls_pillar(tmp_path):
    import yaml
    data = yaml.safe_load(open(os.path.join(REPO, "hosts.yaml")))
    data["hosts"]["hap1"]["vars"] = {"tls_pem": "mine"}
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump(data))
    from hafab.cluster import inventory
    with pytest.raises(InputError) as caught:
        inventory.load(str(path))
    assert "hosts.hap1.vars.tls_pem: shadows the validated key tls_pem" in str(caught.value)


def test_a_rollback_of_the_pem_shows_no_diff_either(tmp_path):
    """The pem's state keeps show_changes: False in the run record, and its restore shows no diff."""
    import types
    from hafab.engine import rollback
    from hafab.engine.states.file import Managed
    from hafab.engine.states.restore import _changes
    _, hosts = compiled(tmp_path, tls="self-signed")
    info = Managed().restore_info(hosts["hap1"][PEM_STATE])
    assert info == {"check_argv": [], "show_changes": False}
    assert "show_changes" not in Managed().restore_info(hosts["hap1"]["/etc/haproxy/haproxy.cfg"])
    record = {"id": "20261201T000000Z-abcdef", "files": [
        {"path": haproxy.TLS_PEM, "state": "s", "backup": "files/0", "existed": True, "kind": "regular file",
         "mode": "600", "user": "root", "group": "root", "old_sha256": "a", **info}]}
    p = rollback.restore_states(record, [])[0].prepared
    file = types.SimpleNamespace(exists=True, kind="regular file", sha256="b", content="NEW KEY LINE\n",
                                 user="root", group="root", mode="600")
    kept = types.SimpleNamespace(exists=True, content="OLD KEY LINE\n")
    assert _changes(p, file, kept) == {"diff": "<show_changes=False>"}
    shown = dict(p, show_changes=True)
    assert "OLD KEY LINE" in _changes(shown, file, kept)["diff"]
