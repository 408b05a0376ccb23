"""Bad TLS input in hosts.yaml (issue 17): `inv provision` exits 2 with one line naming the file and key
(or the certificate file at fault), never showing the key, and opens no connection (the listener counts
them). The certificates are made here (tests/unit/test_certs.make_pair)."""

import datetime
import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.e2e.conftest import inv
from tests.e2e.test_bad_input import build, listener, ssh_config  # noqa: F401 - listener is a fixture
from tests.unit.test_certs import make_pair

NAMES = ("IP:10.98.0.10", "DNS:seed")
NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
FILES = "  tls: files\n  tls_cert: tls/server.pem\n  tls_key: tls/server.key\n"


def cluster_keys(text):
    return {"hosts.yaml": ("  interface: eth1\n", "  interface: eth1\n  name: seed\n" + text)}


# (case, extra cluster keys, make_pair arguments or None, the one line expected)
CASES = [
    ("tls-unknown", "  tls: https\n", None,
     "hosts.yaml: cluster.tls: 'https' must be one of none, self-signed, files"),
    ("http-unknown", "  tls: self-signed\n  http: both\n", None,
     "hosts.yaml: cluster.http: 'both' must be one of redirect, serve, off"),
    ("http-redirect-without-tls", "  http: redirect\n", None,
     "hosts.yaml: cluster.http: 'redirect' needs cluster.tls: self-signed or files (without TLS port 80 serves)"),
    ("tls-with-mode-tcp", "  tls: self-signed\n  mode: tcp\n", None,
     "hosts.yaml: cluster.tls: HAProxy terminates TLS in cluster.mode: http only (mode tcp passes the "
     "connections through)"),
    ("cert-without-files", "  tls_cert: tls/server.pem\n", None,
     "hosts.yaml: cluster.tls_cert: only used with cluster.tls: files"),
    ("files-without-key", "  tls: files\n  tls_cert: tls/server.pem\n", {},
     "hosts.yaml: cluster.tls_key: missing (required with cluster.tls: files)"),
    ("cert-outside-the-repository", FILES.replace("tls/server.pem", "../server.pem"), {},
     "hosts.yaml: cluster.tls_cert: '../server.pem' resolves outside the directory of hosts.yaml: the secret "
     "stays in the repository"),
    ("cert-missing", FILES.replace("tls/server.pem", "tls/nothing.pem"), {},
     "hosts.yaml: cluster.tls_cert: 'tls/nothing.pem' is not a file"),
    ("key-of-another-certificate", FILES, {"key": ec.generate_private_key(ec.SECP256R1())},
     "tls/server.key (cluster.tls_key): the key does not match the certificate tls/server.pem (cluster.tls_cert)"),
    ("expired", FILES, {"start": NOW - 10 * DAY, "end": NOW - DAY},
     f"tls/server.pem (cluster.tls_cert): the certificate expired on {NOW - DAY:%Y-%m-%d %H:%M} UTC"),
    ("vip-not-covered", FILES, {"names": ("IP:10.98.0.99", "DNS:seed")},
     "tls/server.pem (cluster.tls_cert): the certificate does not cover IP 10.98.0.10 (subjectAltName)"),
    ("key-mode-0644", FILES, {"key_mode": 0o644},
     "tls/server.key (cluster.tls_key): the key file has mode 0644: it must be 0600"),
]


@pytest.mark.parametrize("keys,pair,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_tls_input_exits_2_with_one_line_and_no_connection(tmp_path, listener, keys, pair, message):  # noqa: F811
    port, accepted = listener
    hosts = build(tmp_path, cluster_keys(keys))
    if pair is not None:
        (tmp_path / "tls").mkdir()
        make_pair(tmp_path / "tls", **{"names": NAMES, "start": NOW - DAY, "end": NOW + 30 * DAY, **pair})
    result = inv("provision", "--inventory", str(hosts), "--ssh-config", ssh_config(tmp_path, port))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [message]
    assert accepted == [] and result.stdout == "" and "PRIVATE" not in result.stderr
    assert not os.path.exists(tmp_path / ".secrets" / "tls")


def test_a_good_pair_does_connect(tmp_path, listener):  # noqa: F811
    """The same tree with a good pair passes the checks and dials: the cases above are refused before that."""
    port, accepted = listener
    hosts = build(tmp_path, cluster_keys(FILES))
    (tmp_path / "tls").mkdir()
    make_pair(tmp_path / "tls", names=NAMES, start=NOW - DAY, end=NOW + 30 * DAY)
    result = inv("provision", "--inventory", str(hosts), "--ssh-config", ssh_config(tmp_path, port))
    assert result.returncode == 1 and accepted, result.stdout + result.stderr
