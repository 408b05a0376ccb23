"""TLS for the cluster (cluster.tls in hosts.yaml; docs/contract.md "TLS").

`self_signed` makes, once per cluster, a small CA and a server certificate it signs whose
subjectAltName covers the VIP and cluster.name (`cluster.tls: self-signed`): files in `.secrets/tls/`,
keys 0600, made atomically; kept while they pass `check_pair` and chain to the CA, else a new server
pair from the same CA (rotation), or a new CA too when it is missing or unusable.

`check_pair` is the load-time check of `cluster.tls: files` (`check_files`) on `cluster.tls_cert` and
`cluster.tls_key`: a PEM certificate that parses, a key file of mode 0600 holding an unencrypted PEM
private key that matches the certificate, the certificate valid now, and its subjectAltName covering
every required name (the VIP as an IP address, cluster.name as a DNS name). Each problem is one
InputError naming the file, never the key's content.

`pillar` is what the LBs' states render TLS with (the pem: a registered secret); `client_site` and
`client_context` are how this machine reaches the site over HTTPS, trusting the cluster's CA.
"""

import datetime
import ipaddress
import os
import ssl
import stat
import warnings

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from hafab.engine import atomicfile, readfile
from hafab.engine.errors import InputError
from hafab.engine.redact import register

KEY_MODE = 0o600
MAX_PEM = 64 * 1024
MIN_SECRET_LINE = 16       # key lines at least this long are masked one by one too
CA_DAYS = 3650
SERVER_DAYS = 825          # what browsers accept at most for a server certificate
FILES = ("ca.pem", "ca.key", "server.pem", "server.key")
SELF_SIGNED_DIR = ".secrets/tls"   # cluster.tls: self-signed, relative to hosts.yaml (git-ignored)
# What HAProxy offers (TLS 1.2 and 1.3 only): forward-secret AEAD suites, ECDSA and RSA certificates
CIPHERS_TLS12 = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                 "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
CIPHERSUITES_TLS13 = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
REFUSED_VERSIONS = ("TLSv1", "TLSv1.1")


# ---- hosts.yaml's cluster.tls -------------------------------------------------------------------

def enabled(inventory):
    return inventory.cluster.get("tls", "none") != "none"


def check_files(root, cluster):
    """cluster.tls: files at load: the pair (and tls_ca when given) usable, else one InputError naming
    the setting's file as written in hosts.yaml."""
    labels = {os.path.join(root, cluster[key]): f"{cluster[key]} (cluster.{key})"
              for key in ("tls_cert", "tls_key", "tls_ca") if cluster.get(key)}
    try:
        check_pair(os.path.join(root, cluster["tls_cert"]), os.path.join(root, cluster["tls_key"]),
                   cluster["vip"], cluster["name"])
        if cluster.get("tls_ca"):
            _certificate(os.path.join(root, cluster["tls_ca"]))
    except InputError as exc:
        message = exc.message
        for path, label in labels.items():
            message = message.replace(path, label)
        raise InputError(labels.get(exc.where, exc.where), message) from None


def server_files(inventory):
    """(certificate path, key path) HAProxy serves: made once for self-signed, checked again for files."""
    cluster = inventory.cluster
    if cluster["tls"] == "self-signed":
        paths = self_signed(os.path.join(inventory.root, SELF_SIGNED_DIR), cluster["vip"], cluster["name"])
        return paths["server.pem"], paths["server.key"]
    check_files(inventory.root, cluster)
    return os.path.join(inventory.root, cluster["tls_cert"]), os.path.join(inventory.root, cluster["tls_key"])


def server_pem(inventory):
    """HAProxy's `crt` file: the certificate (chain) then the key. The key is registered as a secret,
    whole and line by line, so no output shows any of it."""
    cert_path, key_path = server_files(inventory)
    cert = readfile.read_bytes(cert_path, cert_path, limit=MAX_PEM).decode("ascii", "replace")
    key = readfile.read_bytes(key_path, key_path, limit=MAX_PEM).decode("ascii", "replace")
    register(key.strip())
    for line in key.splitlines():   # a short last line alone would mask common words (and tells nothing)
        if len(line.strip()) >= MIN_SECRET_LINE and not line.startswith("-----"):
            register(line.strip())
    return cert.rstrip("\n") + "\n" + key.rstrip("\n") + "\n"


def pillar(inventory):
    """What an LB's states render TLS with: the pem (a secret), its path, the port, the ciphers."""
    from hafab.cluster import haproxy   # late: haproxy's vocabulary module imports nothing of ours

    return {"tls_pem": server_pem(inventory), "tls_pem_path": haproxy.TLS_PEM, "https_port": haproxy.HTTPS_PORT,
            "tls_ciphers": CIPHERS_TLS12, "tls_ciphersuites": CIPHERSUITES_TLS13}


def ca_file(inventory):
    """The CA `inv verify` and the probes check the chain against (None: the system's trust store)."""
    cluster = inventory.cluster
    if cluster["tls"] == "self-signed":
        return os.path.join(inventory.root, SELF_SIGNED_DIR, "ca.pem")
    return os.path.join(inventory.root, cluster["tls_ca"]) if cluster.get("tls_ca") else None


def client_context(inventory, legacy=False):
    """A client SSLContext that verifies the chain against the cluster's CA and the name. legacy=True
    offers only TLS 1.0 and 1.1 (and lets this machine's OpenSSL offer them), to see the LB refuse them."""
    context = ssl.create_default_context(cafile=ca_file(inventory))
    if legacy:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def client_site(inventory):
    """How a client reaches the site on the VIP: {"port": 80} or, with TLS, HTTPS on 443 checked against
    the cluster's CA (each request a new connection and a full handshake). InputError, before anything is
    sent, when the self-signed CA is not made yet."""
    from hafab.cluster import haproxy   # late, as in pillar()

    if not enabled(inventory):
        return {"port": haproxy.HTTP_PORT}
    ca = ca_file(inventory)
    if ca is not None and not os.path.isfile(ca):
        raise InputError(os.path.relpath(ca, inventory.root), "missing: run `inv provision` first "
                                                              "(cluster.tls: self-signed makes the cluster's CA)")
    return {"port": haproxy.HTTPS_PORT, "tls": client_context(inventory)}


def scheme(site):
    return "https" if site.get("tls") is not None else "http"


def refused_by_server(error):
    """True when a handshake error is the server's protocol_version alert (not this machine refusing)."""
    return "ALERT_PROTOCOL_VERSION" in error.upper()


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
    """{file name: path} of the cluster's CA and server pair in `directory`: kept while the server pair
    passes `check_pair` and chains to the CA; else a new server pair (a rotation: the CA stays while it is
    valid, so clients that trust it keep trusting the new certificate) or, without a usable CA, both."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    paths = {name: os.path.join(directory, name) for name in FILES}
    ca_pair = _usable_ca(paths, now)
    if ca_pair and os.path.exists(paths["server.pem"]) and os.path.exists(paths["server.key"]):
        try:
            check_pair(paths["server.pem"], paths["server.key"], vip, dns_name, now=now)
            _certificate(paths["server.pem"]).verify_directly_issued_by(ca_pair[1])
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
        ca, key = _certificate(paths["ca.pem"]), _private_key(paths["ca.key"])
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
