"""Judging HTTPS on the VIP (hafab/verify/judge_tls.py): each rule's good and bad cases, one table each."""

import pytest

from hafab.cluster.probe import Response
from hafab.verify import judge_tls

VIP = "192.168.50.10"


def ok(status=200, version="TLSv1.3", resumed=False, headers=None, server="web1"):
    return Response(VIP, "/", status=status, tls_version=version, tls_resumed=resumed, headers=headers or {},
                    server=server)


def failed(error):
    return Response(VIP, "/", error=error)


@pytest.mark.parametrize("response, good, words", [
    (ok(), True, "verified against the cluster CA ca.pem, TLSv1.3, HTTP 200"),
    (ok(version="TLSv1.2"), True, "TLSv1.2"),
    (ok(version="TLSv1.1"), False, "agreed TLSv1.1"),
    (failed("certificate not trusted: self-signed certificate"), False, "not trusted"),
    (failed("certificate not trusted: IP address mismatch"), False, "mismatch"),
])
def test_judge_chain(response, good, words):
    result, detail = judge_tls.judge_chain(response, f"IP {VIP}", "ca.pem")
    assert result is good and words in detail, detail


@pytest.mark.parametrize("response, good, words", [
    (failed("TLS handshake failed: TLSV1_ALERT_PROTOCOL_VERSION"), True, "refused by the LB"),
    (ok(version="TLSv1.1"), False, "was served (TLSv1.1"),
    (failed("TLS handshake failed: NO_PROTOCOLS_AVAILABLE"), False, "no protocol_version alert"),
    (failed("refused"), False, "no protocol_version alert from the LB: refused"),
])
def test_judge_legacy_refused(response, good, words):
    result, detail = judge_tls.judge_legacy_refused(response)
    assert result is good and words in detail, detail


@pytest.mark.parametrize("responses, good, words", [
    ([ok(), ok(version="TLSv1.2")], True, "2/2 requests each a new connection and a full handshake (TLSv1.2, TLSv1.3)"),
    ([ok(), ok(resumed=True)], False, "1/2 requests resumed a TLS session"),
    ([failed("timeout after 1 s")], False, "no HTTPS request"),
])
def test_judge_sessions(responses, good, words):
    result, detail = judge_tls.judge_sessions(responses)
    assert result is good and words in detail, detail


HSTS = {"strict-transport-security": "max-age=31536000"}
REDIRECT = {"location": f"https://{VIP}/"}


@pytest.mark.parametrize("mode, port80, stats80, https, good, words", [
    ("redirect", ok(301, headers=REDIRECT, server=None), None, ok(headers=HSTS), True, "301 to https://"),
    ("redirect", ok(), None, ok(headers=HSTS), False, "port 80 answered 200"),
    ("redirect", ok(301, headers=REDIRECT, server=None), None, ok(), False, "no HSTS"),
    ("redirect", ok(301, headers={**REDIRECT, **HSTS}, server=None), None, ok(headers=HSTS), False,
     "port 80 carries HSTS"),
    ("redirect", failed("refused"), None, ok(headers=HSTS), False, "port 80: refused"),
    ("serve", ok(), ok(301, headers=REDIRECT, server=None), ok(), True, "stats page redirects"),
    ("serve", ok(), ok(401, server=None), ok(), False, "not redirected to HTTPS"),
    ("serve", ok(301, headers=REDIRECT, server=None), ok(301, headers=REDIRECT), ok(), False, "answered 301"),
    ("off", failed("refused"), failed("refused"), ok(), True, "port 80 refused"),
    ("off", ok(), None, ok(), False, "port 80 answered HTTP 200"),
])
def test_judge_port80(mode, port80, stats80, https, good, words):
    result, detail = judge_tls.judge_port80(mode, VIP, port80, stats80, https)
    assert result is good and words in detail, detail
