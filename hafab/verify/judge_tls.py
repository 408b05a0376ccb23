"""Judging HTTPS on the VIP (cluster.tls): the chain and the names, the protocols refused, a new TLS
session per request, and what port 80 does for cluster.http.

Pure: plain data in (probe.Response objects), (ok, detail) out; detail is one line of evidence.
"""

from hafab.cluster import haproxy, tls

GOOD_VERSIONS = ("TLSv1.2", "TLSv1.3")


def judge_chain(response, name, ca):
    """An HTTPS answer whose certificate chain verified against `ca` for `name`, over TLS 1.2 or 1.3."""
    trust = f"the cluster CA {ca}" if ca else "this machine's trust store"
    if not response.answered:
        return False, f"HTTPS for {name}: {response.error}"
    if response.tls_version not in GOOD_VERSIONS:
        return False, f"HTTPS for {name} agreed {response.tls_version or 'no protocol'}"
    return True, f"certificate for {name} verified against {trust}, {response.tls_version}, HTTP {response.status}"


def judge_legacy_refused(response):
    """A client offering only TLS 1.0 and 1.1 is refused by the LB with a protocol_version alert."""
    if response.answered:
        return False, f"a TLS 1.0/1.1-only client was served ({response.tls_version}, HTTP {response.status})"
    if tls.refused_by_server(response.error):
        return True, f"a TLS 1.0/1.1-only client was refused by the LB ({response.error})"
    return False, f"no protocol_version alert from the LB: {response.error}"


def judge_sessions(responses):
    """Every request through the VIP was its own connection with a full handshake (no resumption)."""
    answered = [r for r in responses if r.answered]
    if not answered:
        return False, "no HTTPS request through the VIP was answered"
    resumed = [r for r in answered if r.tls_resumed]
    versions = sorted({r.tls_version for r in answered})
    if resumed:
        return False, f"{len(resumed)}/{len(answered)} requests resumed a TLS session"
    return True, f"{len(answered)}/{len(answered)} requests each a new connection and a full handshake ({', '.join(versions)})"


def judge_port80(mode, vip, port80, stats80, https_answer):
    """cluster.http: redirect -> 301 to https://VIP/ (and HSTS on HTTPS answers, never on port 80);
    serve -> the site on port 80 but the stats page redirected to HTTPS; off -> nothing listens."""
    hsts = https_answer.headers.get(haproxy.HSTS) if https_answer is not None else None
    if mode == "off":
        if port80.answered:
            return False, f"cluster.http: off, but port 80 answered HTTP {port80.status}"
        return True, f"cluster.http: off: port 80 {port80.error}"
    if not port80.answered:
        return False, f"cluster.http: {mode}, but port 80: {port80.error}"
    location = port80.headers.get("location", "")
    if mode == "redirect":
        if port80.status not in (301, 302, 307, 308) or not location.startswith(f"https://{vip}/"):
            return False, f"cluster.http: redirect, but port 80 answered {port80.status} Location {location!r}"
        if not hsts or "max-age=" not in hsts:
            return False, f"port 80 redirects to {location}, but HTTPS answers carry no HSTS header"
        if haproxy.HSTS in port80.headers:
            return False, "port 80 carries HSTS (only HTTPS answers may)"
        return True, f"port 80: {port80.status} to {location}; HTTPS answers: Strict-Transport-Security: {hsts}"
    stats_location = stats80.headers.get("location", "") if stats80 is not None and stats80.answered else ""
    if port80.status != 200 or not port80.server:
        return False, f"cluster.http: serve, but port 80 answered {port80.summary()}"
    if not stats_location.startswith(f"https://{vip}/"):
        return False, f"cluster.http: serve, but the stats page on port 80 is not redirected to HTTPS " \
                      f"({stats80.summary() if stats80 is not None else 'not probed'})"
    return True, f"port 80 serves ({port80.summary()}); the stats page redirects to {stats_location}"
