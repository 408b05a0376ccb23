"""verify's judgement of the logs, with plain data: access-log lines, health checks, the marked request."""

from datetime import datetime, timezone

import pytest

from hafab.verify import judge_logs

PROXIED = ('192.168.50.1 - - [25/Nov/2026:13:11:35 +0000] "GET /?hafab-verify=m1 HTTP/1.1" 200 376 "-" '
           '"hafab-verify/m1" via=192.168.50.11')
COMBINED = '192.168.50.11 - - [09/Jul/2016:13:22:52 +0000] "OPTIONS / HTTP/1.0" 200 180 "-" "-"'
LBS = {"192.168.50.11", "192.168.50.12"}


def test_access_lines_of_both_formats_parse():
    entry = judge_logs.parse_access_line(PROXIED)
    assert (entry["client"], entry["method"], entry["path"], entry["status"], entry["via"]) == \
        ("192.168.50.1", "GET", "/?hafab-verify=m1", "200", "192.168.50.11")
    entry = judge_logs.parse_access_line(COMBINED)
    assert (entry["client"], entry["method"], entry["via"]) == ("192.168.50.11", "OPTIONS", None)
    assert judge_logs.parse_access_line("garbage") is None


def test_health_checks_are_options_from_an_lb():
    client_options = COMBINED.replace("192.168.50.11", "192.168.50.1", 1)
    seed_style = COMBINED.replace("192.168.50.11", "-", 1)
    found = judge_logs.health_check_lines([PROXIED, COMBINED, client_options, seed_style], LBS)
    assert found == [COMBINED, seed_style]


def test_health_checks_logged_before_the_configuration_was_loaded_do_not_count():
    lbs = {"192.168.50.11"}
    loaded = judge_logs.apache_loaded("[Wed Nov 25 13:07:20.002572 2026] [mpm_event:notice] [pid 636:tid 636] "
                                      "AH00489: Apache/2.4.68 (Debian) configured -- resuming normal operations",
                                      "+0000")
    assert loaded == datetime(2026, 11, 25, 13, 7, 20, tzinfo=timezone.utc)
    line = '192.168.50.11 - - [25/Nov/2026:{} +0000] "OPTIONS / HTTP/1.0" 200 181 "-" "-"'
    before, same_second, after = line.format("13:07:19"), line.format("13:07:20"), line.format("13:07:21")
    assert judge_logs.health_check_lines([before, same_second, after], lbs, loaded) == [after]
    assert judge_logs.health_check_lines([before], lbs, None) == [before]


def test_apache_loaded_honours_the_host_offset():
    loaded = judge_logs.apache_loaded("[Wed Nov 25 14:07:20.5 2026] [x] AH00489: ...", "+0100")
    assert loaded.astimezone(timezone.utc) == datetime(2026, 11, 25, 13, 7, 20, tzinfo=timezone.utc)
    assert judge_logs.apache_loaded("", "+0000") is None


VIA_LB = PROXIED.replace("192.168.50.1 ", "192.168.50.11 ", 1)

# lines found per web, the web whose page answered; the web, ok and words judge_access_log must give
ACCESS_LOG = {
    "logged by the serving web with this machine's address": ({"web1": [PROXIED], "web2": []}, "web1",
                                                              "web1", True, ""),
    "client logged as the LB": ({"web1": [VIA_LB]}, "web1", "web1", False, "LB's address"),
    "logged nowhere": ({"web1": [], "web2": []}, "web1", None, False, ""),
    "logged twice": ({"web1": [PROXIED], "web2": [PROXIED]}, None, None, False, ""),
    "logged by another web": ({"web2": [PROXIED]}, "web1", "web2", False, "page came from web1"),
}


@pytest.mark.parametrize("case", sorted(ACCESS_LOG))
def test_access_log_needs_this_machines_address_on_the_serving_web(case):
    found, served, want_web, want_ok, words = ACCESS_LOG[case]
    web, ok, detail = judge_logs.judge_access_log(found, "m1", "192.168.50.1", LBS, served)
    assert (web, ok) == (want_web, want_ok), detail
    assert words in detail


@pytest.mark.parametrize("lines, holder, ok", [(["x GET /?hafab-verify=m1"], "hap1", True), ([], "hap1", False),
                                               (["x"], None, False)])
def test_haproxy_log(lines, holder, ok):
    assert judge_logs.judge_haproxy_log(lines, holder)[0] is ok


def test_trim_collapses_and_cuts():
    assert judge_logs.trim("a  b\tc") == "a b c"
    assert judge_logs.trim("x" * 200, width=10) == "x" * 9 + "…"
