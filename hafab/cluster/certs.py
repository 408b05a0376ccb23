"""The cluster's certificate files (cluster.tls in hosts.yaml; docs/contract.md "TLS"), with the
cryptography library: imported only by TLS clusters (hafab.cluster.tls imports it when TLS is on), so a
plain-HTTP cluster's every task starts without it (~40 ms).

`self_signed` makes, once per cluster, a small CA and a server certificate it signs whose
subjectAltName covers the VIP and cluster.name (`cluster.tls: self-signed`): files in `.secrets/tls/`,
keys 0600, made atomically; kept while they pass `check_pair` and chain to the CA, else a new server
pair from the same CA (rotation), or a new CA too when it is missing or unusable.

`check_pair` is the load-time check of `cluster.tls: files` (tls.check_files) on `cluster.tls_cert` and
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
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from hafab.engine import atomicfile, readfile
from hafab.engine.errors import InputError

KEY_MODE = 0o600
MAX_PEM = 64 * 1024
CA_DAYS = 3650
SERVER_DAYS = 825          # what browsers accept at most for a server certificate
FILES = ("ca.pem", "ca.key", "server.pem", "server.key")


def check_pair(cert_path, key_path, vip, dns_name, now=None):
    """InputError naming the file at fault unless the pair is usable for `vip` and `dns_name`."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    cert = certificate(cert_path)
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


def certificate(path):
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
    """{file name: path} of the cluster's CA and server pair in `directory`: kept while the server pair
    passes `check_pair` and chains to the CA; else a new server pair (a rotation: the CA stays while it is
    valid, so clients that trust it keep trusting the new certificate) or, without a usable CA, both."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    paths = {name: os.path.join(directory, name) for name in FILES}
    ca_pair = _usable_ca(paths, now)
    if ca_pair and os.path.exists(paths["server.pem"]) and os.path.exists(paths["server.key"]):
        try:
            check_pair(paths["server.pem"], paths["server.key"], vip, dns_name, now=now)
            certificate(paths["server.pem"]).verify_directly_issued_by(ca_pair[1])
            return paths
        except (InputError, ValueError, TypeError, InvalidSignature):
            pass                                   # expired, for other names or another CA: a new pair
    os.makedirs(directory, mode=0o700, exist_ok=True)
    if ca_pair is None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"hafab {dns_name} CA")])
        ca = (_builder(ca_name, ca_name, ca_key.public_key(), now, CA_DAYS)
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
              .sign(ca_key, hashes.SHA256()))
        atomicfile.write(paths["ca.key"], _key_pem(ca_key), KEY_MODE)
        atomicfile.write(paths["ca.pem"], ca.public_bytes(serialization.Encoding.PEM), KEY_MODE)
    else:
        ca_key, ca = ca_pair
    issue_server(paths, ca_key, ca, vip, dns_name, now)
    return paths


def issue_server(paths, ca_key, ca, vip, dns_name, now):
    """A new server key and certificate signed by the CA, written atomically (key first)."""
    server_key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(vip)), x509.DNSName(dns_name)])
    server = (_builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)]), ca.subject,
                       server_key.public_key(), now, SERVER_DAYS)
              .add_extension(san, critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    atomicfile.write(paths["server.key"], _key_pem(server_key), KEY_MODE)
    atomicfile.write(paths["server.pem"], server.public_bytes(serialization.Encoding.PEM), KEY_MODE)


def _usable_ca(paths, now):
    """(CA key, CA certificate) when both exist, match and the CA is valid for a server's lifetime."""
    if not (os.path.exists(paths["ca.pem"]) and os.path.exists(paths["ca.key"])):
        return None
    try:
        ca, key = certificate(paths["ca.pem"]), _private_key(paths["ca.key"])
    except InputError:
        return None
    if _public(key.public_key()) != _public(ca.public_key()):
        return None
    if ca.not_valid_after_utc <= now + datetime.timedelta(days=SERVER_DAYS) or ca.not_valid_before_utc > now:
        return None
    return key, ca


def _builder(subject, issuer, public_key, now, days):
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days)))


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
