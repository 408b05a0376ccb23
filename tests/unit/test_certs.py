"""The certificate checks `cluster.tls: files` will run at load (hafab/cluster/certs.py): each bad pair is
one InputError naming the file at fault, never the key; a good pair passes. Certificates made here.
"""

import datetime
import ipaddress
import os
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hafab.cluster import certs, tls
from hafab.engine.errors import InputError

VIP, NAME = "192.168.50.10", "seed"
NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def make_pair(tmp_path, names=(f"IP:{VIP}", f"DNS:{NAME}"), start=NOW - DAY, end=NOW + 365 * DAY,
              key=None, key_mode=0o600, encrypt=False):
    signer = ec.generate_private_key(ec.SECP256R1())
    key = key or signer
    san = [x509.IPAddress(ipaddress.ip_address(n[3:])) if n.startswith("IP:") else x509.DNSName(n[4:]) for n in names]
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")]))
               .public_key(signer.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    cert = builder.sign(signer, hashes.SHA256())
    cert_path, key_path = tmp_path / "server.pem", tmp_path / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    encryption = serialization.BestAvailableEncryption(b"pw") if encrypt else serialization.NoEncryption()
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    os.chmod(key_path, key_mode)
    return str(cert_path), str(key_path)


def test_a_good_pair_passes(tmp_path):
    certs.check_pair(*make_pair(tmp_path), VIP, NAME, now=NOW)


def test_dns_name_is_case_insensitive(tmp_path):
    certs.check_pair(*make_pair(tmp_path, names=(f"IP:{VIP}", "DNS:SEED")), VIP, NAME, now=NOW)


BAD = {
    "key-of-another-certificate": (dict(key=ec.generate_private_key(ec.SECP256R1())), "key", "does not match"),
    "expired": (dict(start=NOW - 10 * DAY, end=NOW - DAY), "cert", "expired on 2026-11-30"),
    "not-yet-valid": (dict(start=NOW + DAY), "cert", "not valid before 2026-12-02"),
    "vip-not-covered": (dict(names=("IP:192.168.50.99", f"DNS:{NAME}")), "cert", f"does not cover IP {VIP}"),
    "name-not-covered": (dict(names=(f"IP:{VIP}", "DNS:other")), "cert", f"does not cover DNS {NAME}"),
    "no-subject-alt-name": (dict(names=()), "cert", f"does not cover IP {VIP}, DNS {NAME}"),
    "key-mode-0644": (dict(key_mode=0o644), "key", "mode 0644: it must be 0600"),
    "key-mode-0400": (dict(key_mode=0o400), "key", "mode 0400: it must be 0600"),
    "encrypted-key": (dict(encrypt=True), "key", "encrypted"),
}


@pytest.mark.parametrize("spec, at_fault, words", list(BAD.values()), ids=list(BAD))
def test_a_bad_pair_is_one_line_naming_the_file(tmp_path, spec, at_fault, words):
    cert, key = make_pair(tmp_path, **spec)
    with pytest.raises(InputError) as caught:
        certs.check_pair(cert, key, VIP, NAME, now=NOW)
    message = str(caught.value)
    assert message.startswith((cert if at_fault == "cert" else key) + ": ") and words in message, message
    assert "\n" not in message and "PRIVATE KEY" not in message


@pytest.mark.parametrize("which, content, words", [
    ("cert", b"not a certificate\n", "is not a PEM certificate"),
    ("cert", b"", "is not a PEM certificate"),
    ("key", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "is not a PEM private key"),
    ("key", b"garbage", "is not a PEM private key"),
])
def test_files_that_do_not_parse(tmp_path, which, content, words):
    cert, key = make_pair(tmp_path)
    with open(cert if which == "cert" else key, "wb") as fh:
        fh.write(content)
    with pytest.raises(InputError) as caught:
        certs.check_pair(cert, key, VIP, NAME, now=NOW)
    assert words in str(caught.value) and "AAAA" not in str(caught.value)


@pytest.mark.parametrize("which", ["cert", "key"])
def test_a_missing_file_names_it(tmp_path, which):
    cert, key = make_pair(tmp_path)
    os.unlink(cert if which == "cert" else key)
    with pytest.raises(InputError) as caught:
        certs.check_pair(cert, key, VIP, NAME, now=NOW)
    assert str(caught.value).startswith(cert if which == "cert" else key)


# ---- the self-signed CA and server pair (cluster.tls: self-signed, to come) ------------------------

def load(path):
    with open(path, "rb") as fh:
        return x509.load_pem_x509_certificate(fh.read())


def test_self_signed_pair_passes_the_checks_and_chains_to_its_ca(tmp_path):
    paths = certs.self_signed(str(tmp_path / "tls"), VIP, NAME)
    certs.check_pair(paths["server.pem"], paths["server.key"], VIP, NAME)
    ca, server = load(paths["ca.pem"]), load(paths["server.pem"])
    server.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for name in certs.FILES:
        assert oct(os.stat(paths[name]).st_mode & 0o777) == "0o600"
    assert oct(os.stat(tmp_path / "tls").st_mode & 0o777) == "0o700"
    assert sorted(os.listdir(tmp_path / "tls")) == sorted(certs.FILES)


def test_self_signed_is_made_once(tmp_path):
    first = certs.self_signed(str(tmp_path), VIP, NAME)
    with open(first["server.key"], "rb") as fh:
        key = fh.read()
    again = certs.self_signed(str(tmp_path), VIP, NAME)
    with open(again["server.key"], "rb") as fh:
        assert fh.read() == key


@pytest.mark.parametrize("change", ["other-vip", "expired"])
def test_self_signed_is_remade_when_it_no_longer_fits(tmp_path, change):
    first = certs.self_signed(str(tmp_path), VIP, NAME, now=NOW - 900 * DAY if change == "expired" else None)
    with open(first["server.pem"], "rb") as fh:
        old = fh.read()
    vip = "192.168.50.20" if change == "other-vip" else VIP
    again = certs.self_signed(str(tmp_path), vip, NAME)
    certs.check_pair(again["server.pem"], again["server.key"], vip, NAME)
    with open(again["server.pem"], "rb") as fh:
        assert fh.read() != old


def test_haproxy_accepts_the_self_signed_pair(tmp_path):
    """The real `haproxy -c` loads the server certificate and key as HAProxy's `crt` file (TLS 1.2+)."""
    paths = certs.self_signed(str(tmp_path / "tls"), VIP, NAME)
    crt = tmp_path / "haproxy.pem"
    crt.write_bytes(open(paths["server.pem"], "rb").read() + open(paths["server.key"], "rb").read())
    config = tmp_path / "haproxy.cfg"
    config.write_text("defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"
                      f"frontend https-in\n    bind 127.0.0.1:8443 ssl crt {crt} ssl-min-ver TLSv1.2\n"
                      "    http-request return status 200\n")
    result = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
