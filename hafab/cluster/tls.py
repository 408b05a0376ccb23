"""TLS for the cluster (cluster.tls in hosts.yaml; docs/contract.md "TLS").

`check_files` is the load-time check of `cluster.tls: files`, `server_files` the pair HAProxy serves
(made once for `self-signed`); both through hafab.cluster.certs (the certificate files, with the
cryptography library), imported only when TLS is on.

`pillar` is what the LBs' states render TLS with (the pem: a registered secret); `client_site` and
`client_context` are how this machine reaches the site over HTTPS, trusting the cluster's CA.
"""

import os
import ssl
import warnings

from hafab.engine import readfile
from hafab.engine.errors import InputError
from hafab.engine.redact import register

MIN_SECRET_LINE = 16       # key lines at least this long are masked one by one too
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
    from hafab.cluster import certs   # late: the cryptography library, for TLS clusters only

    labels = {os.path.join(root, cluster[key]): f"{cluster[key]} (cluster.{key})"
              for key in ("tls_cert", "tls_key", "tls_ca") if cluster.get(key)}
    try:
        certs.check_pair(os.path.join(root, cluster["tls_cert"]), os.path.join(root, cluster["tls_key"]),
                         cluster["vip"], cluster["name"])
        if cluster.get("tls_ca"):
            certs.certificate(os.path.join(root, cluster["tls_ca"]))
    except InputError as exc:
        message = exc.message
        for path, label in labels.items():
            message = message.replace(path, label)
        raise InputError(labels.get(exc.where, exc.where), message) from None


def server_files(inventory):
    """(certificate path, key path) HAProxy serves: made once for self-signed, checked again for files."""
    from hafab.cluster import certs   # late, as in check_files

    cluster = inventory.cluster
    if cluster["tls"] == "self-signed":
        paths = certs.self_signed(os.path.join(inventory.root, SELF_SIGNED_DIR), cluster["vip"], cluster["name"])
        return paths["server.pem"], paths["server.key"]
    check_files(inventory.root, cluster)
    return os.path.join(inventory.root, cluster["tls_cert"]), os.path.join(inventory.root, cluster["tls_key"])


def server_pem(inventory):
    """HAProxy's `crt` file: the certificate (chain) then the key. The key is registered as a secret,
    whole and line by line, so no output shows any of it."""
    from hafab.cluster.certs import MAX_PEM

    cert_path, key_path = server_files(inventory)
    cert = readfile.read_bytes(cert_path, cert_path, limit=MAX_PEM).decode("ascii", "replace")
    key = readfile.read_bytes(key_path, key_path, limit=MAX_PEM).decode("ascii", "replace")
    register(key.strip())
    for line in key.splitlines():   # a short last line alone would mask common words (and tells nothing)
        if len(line.strip()) >= MIN_SECRET_LINE and not line.startswith("-----"):
            register(line.strip())
    return cert.rstrip("\n") + "\n" + key.rstrip("\n") + "\n"


def pillar(inventory):
    """What an LB's states render TLS with: the pem (a secret), its path, the port, the ciphers; without
    TLS only the pem's path (the states remove a pem left from when TLS was on)."""
    from hafab.cluster import haproxy   # late: haproxy's vocabulary module imports nothing of ours

    if not enabled(inventory):
        return {"tls_pem_path": haproxy.TLS_PEM}
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
