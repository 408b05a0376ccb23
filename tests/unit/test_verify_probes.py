"""verify's probes through the VIP with a fake prober (no network): order, a dead VIP, cookies, stats, settle."""

import pytest

from hafab.cluster import inventory
from hafab.cluster.probe import Response
from hafab.verify import probes

HOSTS = """\
cluster: {{vip: 10.123.0.10, subnet: 10.123.0.0/24, interface: eth1, virtual_router_id: 7{extra}}}
hosts:
  hap1: {{address: 10.123.0.11, roles: [lb], priority: 101, vars: {{haproxy_stats_port: 8405}}}}
  web1: {{address: 10.123.0.21, roles: [web]}}
  web2: {{address: 10.123.0.22, roles: [web]}}
"""
MARK = "hafab-verify-0123456789abcdef"


def load(tmp_path, extra=""):
    (tmp_path / "hosts.yaml").write_text(HOSTS.format(extra=extra))
    return inventory.load(str(tmp_path / "hosts.yaml"))


class Prober:
    """Answers every request from `answer(n)` and records (path, port, headers) of each."""

    def __init__(self, answer):
        self.answer, self.calls = answer, []

    def get(self, address, path="/", port=80, headers=None, **kwargs):
        self.calls.append((path, port, headers or {}))
        return self.answer(len(self.calls), address, path)

    def many(self, address, count, headers=None, **kwargs):
        return [self.get(address, "/", headers=headers) for _ in range(count)]


def web_page(n, address, path):
    name = f"web{1 + (n + 1) % 2}"
    return Response(address, path, status=200, server=name, body=f"<h1>{name}</h1>",
                    set_cookies=[f"SERVERID={name}; path=/"])


def dead(n, address, path):
    return Response(address, path, error="timeout after 1 s")


def test_a_dead_vip_is_given_up_after_a_few_requests(tmp_path):
    prober = Prober(dead)
    vip = probes.probe_vip(prober, load(tmp_path), 20, MARK, "s3cret")
    assert len(prober.calls) == probes.DEAD_AFTER == len(vip.rounds)
    assert vip.stats_html.error.startswith("not sent") and vip.marker.status is None
    assert vip.stats_anon is vip.stats_csv is vip.cookie_first is vip.marker


def test_rounds_then_the_marked_request_then_the_stats(tmp_path):
    prober = Prober(web_page)
    vip = probes.probe_vip(prober, load(tmp_path), 4, MARK, "s3cret")
    assert [r.server for r in vip.rounds] == ["web1", "web2", "web1", "web2"]
    paths = [path for path, _, _ in prober.calls]
    assert paths == ["/"] * 4 + [f"/?hafab-verify={MARK}", "/haproxy?stats", "/haproxy?stats", "/haproxy?stats;csv"]
    assert prober.calls[4][2] == {"User-Agent": f"hafab-verify/{MARK}"}
    assert prober.calls[5][2] == {} and "Authorization" in prober.calls[6][2]
    assert {port for _, port, _ in prober.calls[5:]} == {80}
    assert vip.cookie_first is None and vip.cookie_sticky == []


def test_without_a_password_the_stats_are_asked_without_credentials_only(tmp_path):
    prober = Prober(web_page)
    vip = probes.probe_vip(prober, load(tmp_path), 2, MARK, None)
    assert [path for path, _, _ in prober.calls][-1] == "/haproxy?stats" and vip.stats_html is None


def test_cookie_persistence_replays_the_cookie(tmp_path):
    prober = Prober(web_page)
    vip = probes.probe_vip(prober, load(tmp_path, ", persistence: cookie"), 2, MARK, "s3cret")
    assert vip.cookie_first.server == "web2"   # the 4th answer
    sticky = prober.calls[4:4 + probes.COOKIE_STICKY]
    assert [headers for _, _, headers in sticky] == [{"Cookie": "SERVERID=web2"}] * probes.COOKIE_STICKY
    assert len(vip.cookie_sticky) == probes.COOKIE_STICKY and len(vip.cookie_fresh) == 2
    assert [path for path, _, _ in prober.calls[4 + probes.COOKIE_STICKY + 2:]] == \
        ["/haproxy?stats", "/haproxy?stats", "/haproxy?stats;csv"]


def test_tcp_mode_asks_the_stats_port(tmp_path):
    prober = Prober(web_page)
    probes.probe_vip(prober, load(tmp_path, ", mode: tcp"), 2, MARK, "s3cret")
    assert {port for path, port, _ in prober.calls if path.startswith("/haproxy")} == {8405}


@pytest.mark.parametrize("extra, direct", [("", True), (", block_direct: false", True),
                                           (", block_direct: false, mode: tcp", False)])
def test_direct_probes_when_blocked_or_in_http_mode(tmp_path, extra, direct):
    assert probes.wants_direct_probes(load(tmp_path, extra)) is direct


def test_settle_returns_once_every_web_answered(tmp_path):
    prober = Prober(web_page)
    probes.settle(prober, load(tmp_path), 5)
    assert len(prober.calls) == 2


def test_settle_gives_up_at_its_deadline(tmp_path):
    prober = Prober(dead)
    probes.settle(prober, load(tmp_path), 0.3)
    assert 1 <= len(prober.calls) <= 4


def test_no_stats_password_file_means_none(tmp_path):
    assert probes.stats_password(load(tmp_path)) is None
    assert not (tmp_path / ".secrets").exists()   # verify creates no secret
