"""Issue 13, class 8: an ssh_config is read with OpenSSH's meaning, and a bad or incomplete one is refused
(InputError, exit 2) naming the file, line and option, before any connection.

Resolved settings are compared with what the real OpenSSH client resolves (`ssh -G`, which connects to
nothing) for the same file and name.
"""

import os
import shutil
import stat
import subprocess
import threading

import paramiko
import pytest

from hafab.engine import knownhosts, ssh_config, transport
from hafab.engine.errors import EXIT_BAD_INPUT, InputError

GOOD = "Host a\n  HostName 10.0.0.1\n"

# (case id, config text, host name, words the one-line error must hold: file:line and the option)
BAD = [
    ("port-not-a-number", "Host a\n  HostName x\n  Port abc\n", "a", [":3:", "Port", "'abc'"]),
    ("port-zero", "Host a\n  HostName x\n  Port 0\n", "a", [":3:", "Port", "1 to 65535"]),
    ("port-too-big", "Host a\n  HostName x\n  Port 65536\n", "a", [":3:", "Port"]),
    ("port-negative", "Host a\n  HostName x\n  Port -1\n", "a", [":3:", "Port"]),
    ("port-two-values", "Host a\n  HostName x\n  Port 22 23\n", "a", [":3:", "Port", "exactly one"]),
    ("port-empty", "Host a\n  HostName x\n  Port\n", "a", [":3:", "Port"]),
    ("port-in-an-unused-block", GOOD + "Host zzz\n  Port abc\n", "a", [":4:", "Port"]),
    ("connecttimeout-word", "Host a\n  HostName x\n  ConnectTimeout soon\n", "a", [":3:", "ConnectTimeout", "'soon'"]),
    ("connecttimeout-zero", "Host a\n  HostName x\n  ConnectTimeout 0\n", "a", [":3:", "ConnectTimeout", "1 to 600"]),
    ("connecttimeout-none", "Host a\n  HostName x\n  ConnectTimeout none\n", "a", [":3:", "ConnectTimeout"]),
    ("connecttimeout-huge", "Host a\n  HostName x\n  ConnectTimeout 2h\n", "a", [":3:", "ConnectTimeout"]),
    ("connecttimeout-float", "Host a\n  HostName x\n  ConnectTimeout 1.5\n", "a", [":3:", "ConnectTimeout"]),
    ("strict-unknown-value", "Host a\n  HostName x\n  StrictHostKeyChecking maybe\n", "a",
     [":3:", "StrictHostKeyChecking", "'maybe'"]),
    ("identitiesonly-not-a-flag", "Host a\n  HostName x\n  IdentitiesOnly sometimes\n", "a", [":3:", "IdentitiesOnly"]),
    ("serveralive-word", "Host a\n  HostName x\n  ServerAliveInterval often\n", "a", [":3:", "ServerAliveInterval"]),
    ("hostname-with-option", "Host a\n  HostName -oProxyCommand=x\n", "a", [":2:", "HostName"]),
    ("hostname-unknown-token", "Host a\n  HostName %z.example\n", "a", [":2:", "HostName", "%z"]),
    ("user-with-space", "Host a\n  HostName x\n  User \"a b\"\n", "a", [":3:", "User"]),
    ("unterminated-quote", "Host a\n  HostName \"x\n", "a", [":2:", "HostName", "quote"]),
    ("control-character", "Host a\n  HostName x\x1b[2J\n", "a", [":2:", "control character"]),
    ("unknown-option", "Host a\n  HostName x\n  Colour blue\n", "a", [":3:", "Colour", "not an option"]),
    ("typo-of-an-option", "Host a\n  HostNmae x\n", "a", [":2:", "HostNmae"]),
    ("proxycommand", "Host a\n  HostName x\n  ProxyCommand nc %h %p\n", "a", [":3:", "ProxyCommand", "ProxyJump"]),
    ("match-block", "Match host a\n  HostName x\n", "a", [":1:", "Match"]),
    ("include", "Include other.conf\n" + GOOD, "a", [":1:", "Include"]),
    ("hostkeyalias", "Host a\n  HostName x\n  HostKeyAlias b\n", "a", [":3:", "HostKeyAlias"]),
    ("localcommand", "Host a\n  HostName x\n  LocalCommand touch /tmp/x\n", "a", [":3:", "LocalCommand"]),
    ("knownhostscommand", "Host a\n  HostName x\n  KnownHostsCommand /bin/true\n", "a", [":3:", "KnownHostsCommand"]),
    ("algorithms-replaced", "Host a\n  HostName x\n  HostKeyAlgorithms ssh-rsa\n", "a", [":3:", "HostKeyAlgorithms"]),
    ("host-without-pattern", "Host\n  HostName x\n", "a", [":1:", "Host"]),
    ("host-bare-negation", "Host !\n  HostName x\n", "a", [":1:", "Host"]),
    ("knownhosts-none-and-file", "Host a\n  HostName x\n  UserKnownHostsFile none /tmp/k\n", "a",
     [":3:", "UserKnownHostsFile", "none"]),
    ("proxyjump-uri", "Host a\n  HostName x\n  ProxyJump ssh://b\n", "a", [":3:", "ProxyJump"]),
    ("proxyjump-bad-port", "Host a\n  HostName x\n  ProxyJump b:99999\n", "a", [":3:", "ProxyJump"]),
    ("proxyjump-through-itself", "Host *\n  HostName x\n  ProxyJump b\n", "a", [":3:", "ProxyJump", "itself"]),
    ("identityfile-unset-variable", "Host a\n  HostName x\n  IdentityFile ${HAFAB_NO_SUCH_VAR}/k\n", "a",
     [":3:", "IdentityFile", "HAFAB_NO_SUCH_VAR"]),
    ("not-option-value", "Host a\n  HostName x\n  Port:22\n", "a", [":3:", "Port:22"]),
    # incomplete: the host is not described at all, or only by blocks that give it no HostName
    ("host-missing", GOOD, "b", ["no Host block gives 'b' a HostName"]),
    ("host-negated", "Host * !b\n  HostName x\n", "b", ["'b'", "HostName"]),
    ("host-block-without-hostname", "Host b\n  Port 22\n  User root\n", "b", ["'b'", "HostName"]),
    ("empty-file", "", "a", ["'a'", "HostName"]),
    ("pattern-is-case-sensitive", "Host A\n  HostName x\n", "a", ["'a'", "HostName"]),
]


def write(tmp_path, text, name="ssh_config"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def check(path, names):
    transport.check_hosts(transport.load_config(path), names)


@pytest.mark.parametrize("case,text,name,words", BAD, ids=[c[0] for c in BAD])
def test_bad_or_incomplete_config_is_one_input_error_naming_file_line_and_option(tmp_path, case, text, name, words):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        check(path, [name])
    line = str(err.value)
    assert err.value.exit_code == EXIT_BAD_INPUT and "\n" not in line
    assert line.startswith(path), line
    for word in words:
        assert word in line, line


@pytest.mark.parametrize("content,words", [
    (b"Host a\n  HostName \xff\n", ["not UTF-8"]),
    (b"Host a\n" + b"#" * (2 << 20), ["larger than"]),
], ids=["not-utf8", "too-big"])
def test_unreadable_config_is_one_input_error(tmp_path, content, words):
    path = tmp_path / "ssh_config"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        transport.load_config(str(path))
    assert all(w in str(err.value) for w in words), str(err.value)


@pytest.mark.parametrize("kind", ["directory", "fifo", "missing"])
def test_config_that_is_not_a_file_is_refused_without_hanging(tmp_path, kind):
    path = tmp_path / "ssh_config"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    with pytest.raises(InputError) as err:
        transport.load_config(str(path))
    assert str(err.value).startswith(str(path))


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_known_hosts_that_is_not_a_file_is_refused_at_check_time(tmp_path, kind):
    known = tmp_path / "known"
    known.mkdir() if kind == "directory" else os.mkfifo(known)
    path = write(tmp_path, f"Host a\n  HostName x\n  UserKnownHostsFile {known}\n")
    with pytest.raises(InputError) as err:
        check(path, ["a"])
    assert f"{path}:3: UserKnownHostsFile" in str(err.value)


# (case id, config text, names): each resolved as `ssh -G` resolves it
RESOLVE = [
    ("first-value-wins", "Host a\n  HostName one\n  Port 2200\nHost *\n  HostName two\n  Port 22\n  User u\n", ["a", "b"]),
    ("global-lines-first", "Port 2000\nUser g\nHost a\n  HostName x\n  Port 3000\n", ["a"]),
    ("several-patterns", "Host b a c\n  HostName x\n  User many\n", ["a", "c"]),
    ("star-and-question", "Host web?\n  HostName q-%h\nHost web*\n  HostName star-%h\n", ["web1", "web12"]),
    ("negation", "Host * !web9\n  HostName %h.example\n  Port 2222\nHost *\n  HostName other\n", ["web1", "web9"]),
    ("negation-beats-match", "Host web1 !web1\n  HostName never\nHost *\n  HostName ever\n", ["web1"]),
    ("equals-and-case", "host a\n  HOSTNAME=x\n  port = 2201\n  user=\"root\"\n", ["a"]),
    ("strict-modes", "Host a\n  HostName x\n  StrictHostKeyChecking accept-new\nHost b\n  HostName x\n"
                     "  StrictHostKeyChecking no\nHost c\n  HostName x\n  StrictHostKeyChecking off\n"
                     "Host d\n  HostName x\n  StrictHostKeyChecking yes\nHost e\n  HostName x\n", list("abcde")),
    ("times", "Host a\n  HostName x\n  ConnectTimeout 1m30s\n  ServerAliveInterval 15\nHost b\n  HostName x\n"
              "  ConnectTimeout 7\n", ["a", "b"]),
    ("known-hosts-files", "Host a\n  HostName x\n  UserKnownHostsFile /tmp/k1 /tmp/k2\n"
                          "  GlobalKnownHostsFile /dev/null\nHost b\n  HostName x\n", ["a", "b"]),
    ("identities", "Host a\n  HostName x\n  IdentityFile /k/one\n  IdentitiesOnly yes\nHost *\n"
                   "  IdentityFile /k/two\n  HashKnownHosts yes\n", ["a"]),
    ("proxy-jump", "Host a\n  HostName x\n  ProxyJump u@j1:2022,j2\nHost j1\n  HostName 10.0.0.9\n", ["a"]),
    ("comments-and-quotes", "# a comment\nHost a # trailing\n  HostName \"x\"  # why\n", ["a"]),
]
STRICT_OF = {"yes": "true", "no": "false", "ask": "ask", "accept-new": "accept-new"}


def openssh_view(path, name):
    """`ssh -G`: what OpenSSH resolves for `name` (it connects to nothing)."""
    out = subprocess.run([shutil.which("ssh") or "ssh", "-F", path, "-G", name], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=20, check=True).stdout
    view = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        view.setdefault(key.lower(), []).append(value)
    return view


def hafab_view(host):
    jump = ",".join(f"{h.name}" for h in host.jumps)
    return {"hostname": host.hostname, "port": str(host.port), "user": host.user,
            "stricthostkeychecking": STRICT_OF[host.strict],
            "connecttimeout": str(host.connect_timeout) if host.connect_timeout else "none",
            "serveraliveinterval": str(host.alive_interval),
            "identitiesonly": "yes" if host.identities_only else "no",
            "hashknownhosts": "yes" if host.hash_known_hosts else "no",
            "userknownhostsfile": " ".join(host.user_known_hosts),
            "globalknownhostsfile": " ".join(host.global_known_hosts), "proxyjump": jump or None}


def _openssh_jump_hosts(value):
    return ",".join(hop.split("@")[-1].split(":")[0] for hop in value.split(","))


@pytest.mark.parametrize("case,text,names", RESOLVE, ids=[c[0] for c in RESOLVE])
def test_resolved_settings_match_openssh(tmp_path, case, text, names):
    path = write(tmp_path, text)
    config = transport.load_config(path)
    for name, host in config.check(names).items():
        theirs, ours = openssh_view(path, name), hafab_view(host)
        for key, value in ours.items():
            got = theirs.get(key, [None])[0]
            if key == "proxyjump" and got:
                got = _openssh_jump_hosts(got)
            if key.endswith("knownhostsfile"):
                got = " ".join(os.path.expanduser(p) for p in got.split())
            assert value == got, (name, key)
        configured = [line for line in text.splitlines() if "identityfile" in line.lower()]
        if configured:
            assert host.identity_files == [os.path.expanduser(p) for p in theirs["identityfile"]], name


def test_identity_tokens_expand_with_the_final_user_host_and_port(tmp_path):
    path = write(tmp_path, "Host a\n  HostName h.%h\n  User bob\n  Port 2200\n  IdentityFile ~/k/%r@%h:%p-%n-%%\n")
    host = transport.load_config(path).settings("a")
    assert host.identity_files == [os.path.expanduser("~/k/bob@h.a:2200-a-%")]


def test_proxy_jump_hops_take_user_and_port_from_the_hop(tmp_path):
    path = write(tmp_path, "Host a\n  HostName x\n  ProxyJump u@j1:2022,j2\nHost j1\n  HostName 10.0.0.9\n"
                           "  User nobody\nHost j2\n  ProxyJump j1\n")
    host = transport.load_config(path).settings("a")
    assert [(h.name, h.hostname, h.user, h.port) for h in host.jumps] == [
        ("j1", "10.0.0.9", "u", 2022), ("j2", "j2", host.jumps[1].user, 22)]
    assert host.jumps[1].jumps == []   # a later hop goes through the one before it, not its own ProxyJump


def test_the_lab_generated_config_is_accepted(tmp_path):
    text = ("Host hap1\n    HostName 10.0.0.11\n    User root\n    IdentityFile /k\n    IdentitiesOnly yes\n"
            "    UserKnownHostsFile /kh\n    GlobalKnownHostsFile /dev/null\n    StrictHostKeyChecking yes\n"
            "    ConnectTimeout 5\n    LogLevel ERROR\n")
    host = transport.load_config(write(tmp_path, text)).settings("hap1")
    assert (host.hostname, host.strict, host.connect_timeout, host.global_known_hosts) == (
        "10.0.0.11", "yes", 5, ["/dev/null"])


def test_vagrant_ssh_config_output_is_accepted(tmp_path):
    text = ("Host default\n  HostName 127.0.0.1\n  User vagrant\n  Port 2222\n  UserKnownHostsFile /dev/null\n"
            "  StrictHostKeyChecking no\n  PasswordAuthentication no\n  IdentityFile /v/private_key\n"
            "  IdentitiesOnly yes\n  LogLevel FATAL\n  PubkeyAcceptedKeyTypes +ssh-rsa\n  HostKeyAlgorithms +ssh-rsa\n")
    host = transport.load_config(write(tmp_path, text)).settings("default")
    assert (host.port, host.user, host.strict, host.user_known_hosts) == (2222, "vagrant", "no", ["/dev/null"])


# ---- known_hosts: what is read, and what accept-new saves --------------------------------------------

@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Two throwaway ed25519 keys."""
    folder, found = tmp_path_factory.mktemp("keys"), []
    for name in ("one", "two"):
        path = str(folder / name)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)
        found.append(paramiko.Ed25519Key.from_private_key_file(path))
    return found


def _line(names, key, marker=""):
    return f"{marker + ' ' if marker else ''}{names} {key.get_name()} {key.get_base64()}\n"


@pytest.mark.parametrize("names,marker,host,listed", [
    ("10.0.0.1", "", "10.0.0.1", "known"),
    ("other,10.0.0.1", "", "10.0.0.1", "known"),
    ("[10.0.0.1]:2222", "", "[10.0.0.1]:2222", "known"),
    ("10.0.0.1", "", "[10.0.0.1]:2222", None),
    ("10.0.0.*", "", "10.0.0.7", "known"),
    ("10.0.0.*,!10.0.0.7", "", "10.0.0.7", None),
    ("HASHED", "", "[10.0.0.1]:2222", "known"),
    ("10.0.0.1", "@revoked", "10.0.0.1", "revoked"),
    ("10.0.0.1", "@cert-authority", "10.0.0.1", None),
], ids=["plain", "list", "port", "other-port", "pattern", "negated", "hashed", "revoked", "cert-authority"])
def test_known_hosts_lines_are_read_as_openssh_reads_them(keys, names, marker, host, listed):
    if names == "HASHED":
        names = paramiko.HostKeys.hash_host(host)
    known, revoked = knownhosts.keys_for(_line(names, keys[0], marker), host)
    assert (bool(known), bool(revoked)) == (listed == "known", listed == "revoked")


@pytest.mark.parametrize("mode", [0o600, 0o644, 0o640])
def test_save_keeps_the_mode_and_other_lines_and_is_atomic(tmp_path, keys, mode):
    path = tmp_path / "known_hosts"
    path.write_text("# mine\n" + _line("other", keys[1]).rstrip("\n"))
    os.chmod(path, mode)
    assert knownhosts.save(str(path), "[127.0.0.1]:2222", keys[0]) is None
    text = path.read_text()
    assert text.startswith("# mine\n") and text.endswith(_line("[127.0.0.1]:2222", keys[0]))
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert [p for p in os.listdir(tmp_path) if p != "known_hosts"] == []


def test_save_to_a_new_file_is_0600_and_hashed_when_asked(tmp_path, keys):
    path = tmp_path / "known_hosts"
    knownhosts.save(str(path), "10.0.0.1", keys[0], hashed=True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text().startswith("|1|")
    assert knownhosts.keys_for(path.read_text(), "10.0.0.1")[0]


def test_save_through_a_symlink_writes_its_target(tmp_path, keys):
    target, link = tmp_path / "real", tmp_path / "link"
    target.write_text("")
    link.symlink_to(target)
    knownhosts.save(str(link), "10.0.0.1", keys[0])
    assert link.is_symlink() and "10.0.0.1" in target.read_text()


def test_save_to_dev_null_keeps_nothing_and_leaves_it_a_device(keys):
    assert knownhosts.save("/dev/null", "10.0.0.1", keys[0]) is None
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_concurrent_saves_of_one_key_write_it_once_and_a_different_key_is_reported(tmp_path, keys):
    path = str(tmp_path / "known_hosts")
    threads = [threading.Thread(target=knownhosts.save, args=(path, "10.0.0.1", keys[0])) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert open(path).read().count("10.0.0.1") == 1
    listed = knownhosts.save(path, "10.0.0.1", keys[1])
    assert listed is not None and knownhosts.same(listed, keys[0])


def test_save_where_the_directory_is_missing_is_an_error_naming_the_file(tmp_path, keys):
    with pytest.raises(knownhosts.KnownHostsError) as err:
        knownhosts.save(str(tmp_path / "no" / "known_hosts"), "10.0.0.1", keys[0])
    assert "known_hosts" in str(err.value)


def test_connect_to_a_host_the_config_does_not_name_is_an_input_error_before_dialling(tmp_path):
    path = write(tmp_path, GOOD)
    with pytest.raises(InputError):
        transport.connect("b", path)


def test_ssh_config_object_is_its_path(tmp_path):
    path = write(tmp_path, GOOD)
    config = transport.load_config(path)
    assert os.fspath(config) == path and str(config) == path and isinstance(config, ssh_config.SshConfig)
