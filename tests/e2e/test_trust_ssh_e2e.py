"""Issue 13, class 8, end to end over the loopback sshd: StrictHostKeyChecking with OpenSSH's meaning
(accept-new saves the key, a changed key is refused), a host missing from --ssh-config or a bad line is
exit 2 with no connection made, and a failed connect is one hafab line with nothing from Paramiko."""

import json
import os
import stat
import subprocess

import pytest

from tests.e2e.conftest import inv
from tests.e2e.test_bad_input import listener  # noqa: F401 - the connection-counting port fixture
from tests.e2e.test_provision_ssh import APP_SLS, make_project

HOSTS = ("alpha", "beta")


def project(tmp_path, hosts=HOSTS):
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "proj").mkdir()
    return make_project(tmp_path / "proj", target, APP_SLS, hosts=hosts) / "hosts.yaml", target


def config_text(sshd, known, names=HOSTS, strict="accept-new", port=None, key=None):
    lines = []
    for name in names:
        lines += [f"Host {name}", "  HostName 127.0.0.1", f"  Port {port or sshd['port']}", "  User root",
                  f"  IdentityFile {key or sshd['key']}", "  IdentitiesOnly yes", f"  UserKnownHostsFile {known}",
                  "  GlobalKnownHostsFile /dev/null", "  ConnectTimeout 3"]
        if strict:
            lines.append(f"  StrictHostKeyChecking {strict}")
    return "\n".join(lines) + "\n"


def run(tmp_path, hosts_yaml, text, *flags):
    path = tmp_path / "ssh_config"
    path.write_text(text)
    return inv("provision", "--inventory", str(hosts_yaml), "--ssh-config", str(path), "--json", *flags)


def only_hafab_lines(stderr):
    """Every stderr line is one of hafab's (its progress), none Paramiko's or a traceback's."""
    lines = stderr.strip().splitlines()
    return all(line.startswith("provision") for line in lines) and "Traceback" not in stderr


def other_key(tmp_path):
    path = str(tmp_path / "other_host_key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)
    return " ".join(open(path + ".pub").read().split()[:2])


def test_accept_new_saves_the_key_once_and_a_later_changed_key_is_refused(tmp_path, sshd):
    hosts_yaml, target = project(tmp_path)
    known = tmp_path / "known_hosts"
    known.write_text("# kept by the operator\n")
    os.chmod(known, 0o640)
    first = run(tmp_path, hosts_yaml, config_text(sshd, known))
    assert first.returncode == 0, first.stderr
    saved = known.read_text()
    entry = f"[127.0.0.1]:{sshd['port']} {sshd['host_key']}\n"
    assert saved == "# kept by the operator\n" + entry   # two hosts, one address: saved once
    assert stat.S_IMODE(os.stat(known).st_mode) == 0o640

    again = run(tmp_path, hosts_yaml, config_text(sshd, known))
    assert again.returncode == 0 and known.read_text() == saved

    changed = saved.replace(sshd["host_key"], other_key(tmp_path))
    known.write_text(changed)
    (target / "alpha" / "motd").unlink()
    refused = run(tmp_path, hosts_yaml, config_text(sshd, known))
    assert refused.returncode == 1
    errors = json.loads(refused.stdout)["errors"]
    assert sorted(errors) == ["alpha", "beta"] and all("host key changed" in e for e in errors.values())
    assert only_hafab_lines(refused.stderr), refused.stderr
    assert known.read_text() == changed and not (target / "alpha" / "motd").exists()


# (StrictHostKeyChecking, is an unknown key accepted and saved)
STRICT = [("yes", False), ("ask", False), (None, False), ("accept-new", True), ("no", True), ("off", True)]


@pytest.mark.parametrize("strict,accepted", STRICT, ids=[str(s) for s, _ in STRICT])
def test_unknown_host_key_follows_strict_host_key_checking(tmp_path, sshd, strict, accepted):
    hosts_yaml, target = project(tmp_path, hosts=("alpha",))
    known = tmp_path / "known_hosts"
    result = run(tmp_path, hosts_yaml, config_text(sshd, known, ("alpha",), strict=strict), "--check")
    assert only_hafab_lines(result.stderr), result.stderr
    if accepted:
        assert result.returncode == 0, result.stderr
        assert known.read_text() == f"[127.0.0.1]:{sshd['port']} {sshd['host_key']}\n"
        assert stat.S_IMODE(os.stat(known).st_mode) == 0o600
    else:
        assert result.returncode == 1
        error = json.loads(result.stdout)["errors"]["alpha"]
        assert "not known" in error and "SHA256:" in error and str(known) in error
        assert not known.exists()


def test_no_with_dev_null_known_hosts_connects_and_keeps_nothing(tmp_path, sshd):
    hosts_yaml, _ = project(tmp_path, hosts=("alpha",))
    result = run(tmp_path, hosts_yaml, config_text(sshd, "/dev/null", ("alpha",), strict="no"), "--check")
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


# (case id, how the config differs from a good one, words in the one line)
BAD_CONFIG = [
    ("host-missing", lambda text: text.split("Host beta")[0], ["ssh_config", "'beta'", "HostName"]),
    ("port-abc", lambda text: text.replace("  Port ", "  Port abc\n  Port ", 1), ["ssh_config:3:", "Port", "'abc'"]),
    ("connecttimeout-soon", lambda text: "ConnectTimeout soon\n" + text, ["ssh_config:1:", "ConnectTimeout", "'soon'"]),
    ("proxycommand", lambda text: "ProxyCommand nc %h %p\n" + text, ["ssh_config:1:", "ProxyCommand"]),
    ("match", lambda text: text + "Match all\n  Port 1\n", ["Match"]),
    ("unknown-option", lambda text: text + "Host *\n  Bogus yes\n", ["Bogus"]),
    ("not-utf8", lambda text: text + "# caf\udcc3\n", ["ssh_config", "UTF-8"]),
]


@pytest.mark.parametrize("case,change,words", BAD_CONFIG, ids=[c[0] for c in BAD_CONFIG])
def test_bad_or_incomplete_config_is_exit_2_with_no_connection(tmp_path, sshd, listener, case, change, words):
    port, accepted = listener
    hosts_yaml, target = project(tmp_path)
    path = tmp_path / "ssh_config"
    path.write_bytes(change(config_text(sshd, tmp_path / "known_hosts", port=port)).encode("utf-8", "surrogateescape"))
    result = inv("provision", "--inventory", str(hosts_yaml), "--ssh-config", str(path))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert all(word in lines[0] for word in words), lines[0]
    assert accepted == [] and result.stdout == "" and list(target.iterdir()) == []


def test_a_port_that_is_not_ssh_is_one_line_with_the_real_reason(tmp_path, sshd, listener):
    port, accepted = listener   # accepts and closes at once: no SSH banner
    hosts_yaml, _ = project(tmp_path, hosts=("alpha",))
    result = run(tmp_path, hosts_yaml, config_text(sshd, tmp_path / "known_hosts", ("alpha",), port=port))
    assert result.returncode == 1 and accepted
    assert "banner" in json.loads(result.stdout)["errors"]["alpha"]
    assert only_hafab_lines(result.stderr), result.stderr


def test_a_key_the_host_refuses_is_one_line_naming_it(tmp_path, sshd):
    hosts_yaml, _ = project(tmp_path, hosts=("alpha",))
    key = str(tmp_path / "stranger")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd['port']} {sshd['host_key']}\n")
    result = run(tmp_path, hosts_yaml, config_text(sshd, known, ("alpha",), strict="yes", key=key))
    assert result.returncode == 1
    assert f"authentication failed: root@127.0.0.1 accepts none of {key}" in json.loads(result.stdout)["errors"]["alpha"]
    assert only_hafab_lines(result.stderr), result.stderr


def test_proxy_jump_goes_through_the_jump_host_and_checks_its_key_too(tmp_path, sshd):
    hosts_yaml, target = project(tmp_path, hosts=("alpha",))
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd['port']} {sshd['host_key']}\n")
    jump = (f"Host jump\n  HostName 127.0.0.1\n  Port {sshd['port']}\n  User root\n  IdentityFile {sshd['key']}\n"
            f"  UserKnownHostsFile KNOWN\n  StrictHostKeyChecking yes\n")
    text = config_text(sshd, known, ("alpha",), strict="yes") + "  ProxyJump jump\n"
    result = run(tmp_path, hosts_yaml, text + jump.replace("KNOWN", str(known)))
    assert result.returncode == 0, result.stderr
    assert (target / "alpha" / "motd").exists()

    refused = run(tmp_path, hosts_yaml, text + jump.replace("KNOWN", str(tmp_path / "empty_known_hosts")))
    assert refused.returncode == 1
    assert "through jump host jump: host key of" in json.loads(refused.stdout)["errors"]["alpha"]
    assert only_hafab_lines(refused.stderr), refused.stderr


def test_connections_made_at_once_share_no_connect_settings(tmp_path, sshd):
    """Eight threads connect at once through the one Fabric Config: each gets its own connect_kwargs
    (Fabric falls back to the Config's when given an empty dict; every thread's socket then landed in one
    shared object, re-merged under the others: 'No attribute or config key found for gateway')."""
    import threading

    from hafab.engine import transport

    names = [f"h{i}" for i in range(8)]
    path = tmp_path / "ssh_config"
    path.write_text(config_text(sshd, tmp_path / "known_hosts", names=names))
    config = transport.load_config(str(path))
    results, barrier = {}, threading.Barrier(len(names))

    def body(name):
        barrier.wait()
        try:
            remote = transport.connect(name, config)
            results[name] = remote.run("echo $PPID", timeout=10).exit_status
            remote.close()
        except Exception as exc:  # noqa: BLE001 - the test reports whatever went wrong
            results[name] = repr(exc)

    threads = [threading.Thread(target=body, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == {name: 0 for name in names}
    assert dict(transport._fabric_config().connect_kwargs) == {}
