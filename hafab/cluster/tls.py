"""TLS certificates for the cluster (issue 17, first part; not yet wired into hosts.yaml nor haproxy.cfg).

`self_signed` makes, once per cluster, a small CA and a server certificate it signs whose
subjectAltName covers the VIP and cluster.name (what `cluster.tls: self-signed` will use): files under
a directory of `.secrets/`, keys 0600, made atomically; when they exist and still pass `check_pair`
they are kept as they are.

`check_pair` is the load-time check that `cluster.tls: files` will run on `cluster.tls_cert` and
`cluster.tls_key`: a PEM certificate that parses, a key file of mode 0600 holding an unencrypted PEM
private key that matches the certificate, the certificate valid now, and its subjectAltName covering
every required name (the VIP as an IP address, cluster.name as a DNS name). Each problem is one
InputError naming the file, never the key's content.
"""

import datetime
import ipaddress
import os
import stat

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from hafab.engine import readfile
from hafab.engine.errors import InputError

KEY_MODE = 0o600
MAX_PEM = 64 * 1024
CA_DAYS = 3650
SERVER_DAYS = 825          # what browsers accept at most for a server certificate
FILES = ("ca.pem", "ca.key", "server.pem", "server.key")


def check_pair(cert_path, key_path, vip, dns_name, now=None):
    """InputError naming the file at fault unless the pair is usable for `vip` and `dns_name`."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    cert = _certificate(cert_path)
    key = _private_key(key_path)
    if _public(key.public_key()) != _public(cert.public_key()):
        raise InputError(key_path, f"the key does not match the certificate {cert_path}")
    if cert.not_valid_after_utc <= now:
        raise InputError(cert_path, f"the certificate expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    if cert.not_valid_before_utc > now:
        raise InputError(cert_path, f"the certificate is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")
    missing = uncovered(cert, vip, dns_name)
    if missing:
        raise InputError(cert_path, f"the certificate does not cover {', '.join(missing)} (subjectAltName)")


def uncovered(cert, vip, dns_name):
    """The required names the certificate's subjectAltName does not list."""
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return [f"IP {vip}", f"DNS {dns_name}"]
    addresses = set(san.get_values_for_type(x509.IPAddress))
    names = {name.lower() for name in san.get_values_for_type(x509.DNSName)}
    missing = [] if ipaddress.ip_address(vip) in addresses else [f"IP {vip}"]
    return missing + ([] if dns_name.lower() in names else [f"DNS {dns_name}"])


def _certificate(path):
    data = readfile.read_bytes(path, path, limit=MAX_PEM)
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise InputError(path, "is not a PEM certificate") from None


def _private_key(path):
    mode = stat.S_IMODE(os.stat(path).st_mode) if os.path.exists(path) else None
    if mode is not None and mode != KEY_MODE:
        raise InputError(path, f"the key file has mode {mode:04o}: it must be 0600")
    data = readfile.read_bytes(path, path, limit=MAX_PEM)
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise InputError(path, "the private key is encrypted: HAProxy needs it unencrypted (mode 0600)") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InputError(path, f"is not a PEM private key ({type(exc).__name__})") from None


def _public(public_key):
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def self_signed(directory, vip, dns_name, now=None):
    """{file name: path} of the cluster's CA and server pair in `directory` (made when missing or unusable)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    paths = {name: os.path.join(directory, name) for name in FILES}
    if all(os.path.exists(p) for p in paths.values()):
        try:
            check_pair(paths["server.pem"], paths["server.key"], vip, dns_name, now=now)
            return paths
        except InputError:
            pass                                   # expired or for other names: make a new pair
    os.makedirs(directory, mode=0o700, exist_ok=True)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"hafab {dns_name} CA")])
    ca = (_builder(ca_name, ca_name, ca_key.public_key(), now, CA_DAYS)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(vip)), x509.DNSName(dns_name)])
    server = (_builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)]), ca_name,
                       server_key.public_key(), now, SERVER_DAYS)
              .add_extension(san, critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    for name, data in (("ca.key", _key_pem(ca_key)), ("server.key", _key_pem(server_key)),
                       ("ca.pem", ca.public_bytes(serialization.Encoding.PEM)),
                       ("server.pem", server.public_bytes(serialization.Encoding.PEM))):
        _write_atomically(paths[name], data, KEY_MODE)
    return paths


def _builder(subject, issuer, public_key, now, days):
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days)))


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write_atomically(path, data, mode):
    temporary = f"{path}.tmp-{os.getpid()}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
