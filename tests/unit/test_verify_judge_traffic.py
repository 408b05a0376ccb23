"""verify's judgement of what the requests got, with plain data: pages, the block, round-robin, persistence."""

import pytest

from hafab.cluster.probe import Response, served_by
from hafab.verify import judge_traffic


def page(name, status=200):
    body = f"<html><body><h1>{name}</h1><p>Hi sir</p></body></html>"
    return Response(address="10.0.0.10", path="/", status=status, body=body, server=served_by(body, {}))


def pages(*names):
    return [page(n) for n in names]


WEBS = ["web1", "web2"]
ODD = Response("10.0.0.10", "/", status=200, body="<p>hello</p>")

# responses, web servers, ok, words the detail must hold
ROUND_ROBIN = {
    "alternating from web1": (pages(*["web1", "web2"] * 10), WEBS, True, ["web1 10, web2 10"]),
    "alternating from web2": (pages(*["web2", "web1"] * 10), WEBS, True, ["web1 10, web2 10"]),
    "odd count balanced within one": (pages("web1", "web2", "web1"), WEBS, True, ["web1 2, web2 1"]),
    "repeated server says where": (pages("web1", "web2", "web2", "web1"), WEBS, False, ["request 3"]),
    "one server missing": (pages(*["web1"] * 20), WEBS, False, ["never web2", "web1 20"]),
    "failed requests": (pages("web1", "web2") + [Response("10.0.0.10", "/", error="timeout after 1 s"),
                                                  page("x", 503)], WEBS, False, ["2/4 requests failed", "503"]),
    # wrong content is web-page's failure, not round-robin's: pages without a name judged by their content
    "unnamed pages told apart by content": ([ODD, page("web2")] * 5, WEBS, True, []),
    "three servers cycle": (pages(*["a", "b", "c"] * 4), ["a", "b", "c"], True, []),
    "three servers out of order": (pages("a", "b", "c", "b", "a", "c"), ["a", "b", "c"], False, []),
}


@pytest.mark.parametrize("case", sorted(ROUND_ROBIN))
def test_round_robin(case):
    responses, webs, want, words = ROUND_ROBIN[case]
    ok, detail = judge_traffic.judge_round_robin(responses, webs)
    assert ok is want, detail
    for word in words:
        assert word in detail


@pytest.mark.parametrize("status, body_server, ok, detail", [
    (200, "web1", True, None),
    (200, "web2", False, "page names 'web2', not 'web1'"),
    (None, None, False, None),
])
def test_page_must_name_its_own_server(status, body_server, ok, detail):
    got = judge_traffic.judge_page("web1", status, body_server)
    assert got[0] is ok
    if detail is not None:
        assert got == (ok, detail)


@pytest.mark.parametrize("error", ["refused", "reset", "timeout after 0.5 s"])
def test_block_accepts_refused_reset_and_timeout(error):
    assert judge_traffic.judge_blocked(Response("10.0.0.21", "/", error=error))[0]


def test_block_fails_when_the_web_server_answers():
    answered = Response("10.0.0.21", "/", status=200, server="web1", local=("10.0.0.1", 4000))
    ok, detail = judge_traffic.judge_blocked(answered)
    assert not ok and "not blocked" in detail and "10.0.0.1" in detail


def with_cookie(resp, value):
    resp.set_cookies = [f"SERVERID={value}; path=/"]
    return resp


def test_cookie_keeps_a_client_on_its_server():
    first = with_cookie(page("web1"), "web1")
    ok, detail = judge_traffic.judge_cookie(first, pages(*["web1"] * 6), pages("web2", "web1"))
    assert ok and "6/6 on web1" in detail and "web1, web2" in detail
    ok, detail = judge_traffic.judge_cookie(first, pages("web1", "web2"), [])
    assert not ok and "1/2 requests left web1" in detail
    assert not judge_traffic.judge_cookie(page("web1"), pages("web1"), [])[0]   # no cookie set


def test_cookie_value_of_the_named_cookie_only():
    assert judge_traffic.cookie_value(["other=1", "SERVERID=web2; path=/"]) == "web2"
    assert judge_traffic.cookie_value(["other=1"]) is None


def test_source_keeps_every_request_on_one_server():
    assert judge_traffic.judge_source(pages(*["web2"] * 5)) == (True, "5/5 requests from this machine on web2")
    assert not judge_traffic.judge_source(pages("web1", "web2"))[0]
