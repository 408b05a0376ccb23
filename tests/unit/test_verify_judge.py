"""verify's judgement, with plain data: round-robin, stats CSV and holder, logs, VIP, sysctl, persistence."""

from datetime import datetime, timezone

import pytest

from hafab.verify import judge
from hafab.cluster.probe import Response, served_by

HEADER = ("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,"
          "status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,"
          "type,rate,rate_lim,rate_max,check_status")
CSV = "\n".join([
    HEADER,
    "http-in,FRONTEND,,,0,2,2000,74,7705,98066,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,24,",
    "webservers,web1,0,0,0,1,32,33,3236,11847,,0,,0,0,0,0,UP,1,1,0,0,0,259,0,,1,3,1,,33,,2,0,,11,L7OK",
    "webservers,web2,0,0,0,1,32,32,3068,11488,,0,,0,0,0,0,DOWN,1,1,0,0,0,259,0,,1,3,2,,32,,2,0,,11,L4CON",
    "webservers,BACKEND,0,0,0,2,200,74,7705,98066,0,0,,0,0,0,0,UP,2,2,0,,0,259,0,,1,3,0,,65,,1,0,,24,",
    "health,FRONTEND,,,0,2,2000,258,22704,38700,0,0,0,,,,,OPEN,,,,,,,,,1,4,0,,,,0,1,0,2,",
    "",
])


def page(name, status=200):
    body = f"<html><body><h1>{name}</h1><p>Hi sir</p></body></html>"
    return Response(address="10.0.0.10", path="/", status=status, body=body, server=served_by(body, {}))


def pages(*names):
    return [page(n) for n in names]


# --- round-robin ---

def test_round_robin_alternating_passes_whichever_server_starts():
    for first, second in (("web1", "web2"), ("web2", "web1")):
        ok, detail = judge.judge_round_robin(pages(*[first, second] * 10), ["web1", "web2"])
        assert ok, detail
        assert "web1 10, web2 10" in detail


def test_round_robin_odd_count_is_balanced_within_one():
    ok, detail = judge.judge_round_robin(pages("web1", "web2", "web1"), ["web1", "web2"])
    assert ok and "web1 2, web2 1" in detail


def test_round_robin_repeated_server_fails_and_says_where():
    ok, detail = judge.judge_round_robin(pages("web1", "web2", "web2", "web1"), ["web1", "web2"])
    assert not ok and "request 3" in detail


def test_round_robin_one_server_missing_fails():
    ok, detail = judge.judge_round_robin(pages(*["web1"] * 20), ["web1", "web2"])
    assert not ok and "never web2" in detail and "web1 20" in detail


def test_round_robin_failed_requests_fail():
    responses = pages("web1", "web2") + [Response("10.0.0.10", "/", error="timeout after 1 s"), page("x", 503)]
    ok, detail = judge.judge_round_robin(responses, ["web1", "web2"])
    assert not ok and "2/4 requests failed" in detail and "503" in detail


def test_round_robin_judges_pages_without_a_name_by_their_content():
    odd = Response("10.0.0.10", "/", status=200, body="<p>hello</p>")
    ok, detail = judge.judge_round_robin([odd, page("web2")] * 5, ["web1", "web2"])
    assert ok, detail  # wrong content is web-page's failure, not round-robin's


def test_round_robin_with_three_servers_cycles():
    assert judge.judge_round_robin(pages(*["a", "b", "c"] * 4), ["a", "b", "c"])[0]
    assert not judge.judge_round_robin(pages("a", "b", "c", "b", "a", "c"), ["a", "b", "c"])[0]


# --- pages and the block ---

def test_page_must_name_its_own_server():
    assert judge.judge_page("web1", 200, "web1")[0]
    assert judge.judge_page("web1", 200, "web2") == (False, "page names 'web2', not 'web1'")
    assert not judge.judge_page("web1", None, None)[0]


def test_block_accepts_refused_reset_and_timeout_only():
    for error in ("refused", "reset", "timeout after 0.5 s"):
        assert judge.judge_blocked(Response("10.0.0.21", "/", error=error))[0]
    answered = Response("10.0.0.21", "/", status=200, server="web1", local=("10.0.0.1", 4000))
    ok, detail = judge.judge_blocked(answered)
    assert not ok and "not blocked" in detail and "10.0.0.1" in detail


# --- stats ---

def test_stats_csv_parsed_by_header_names():
    rows = judge.parse_stats_csv(CSV)
    assert [(r["pxname"], r["svname"]) for r in rows][:2] == [("http-in", "FRONTEND"), ("webservers", "web1")]
    assert rows[1]["status"] == "UP" and rows[2]["check_status"] == "L4CON"
    assert judge.parse_stats_csv("<html>401</html>") == []


def test_backends_all_up_or_named():
    rows = judge.parse_stats_csv(CSV)
    ok, detail = judge.judge_backends(rows, ["web1", "web2"])
    assert not ok and detail == "web1 UP (L7OK), web2 DOWN (L4CON)"
    rows[2]["status"] = "UP"
    assert judge.judge_backends(rows, ["web1", "web2"])[0]
    ok, detail = judge.judge_backends(rows, ["web1", "web3"])
    assert not ok and "web3 missing" in detail


def test_frontend_sessions_leave_out_the_health_frontend():
    assert judge.frontend_sessions(judge.parse_stats_csv(CSV)) == {"http-in": 74}


HTML = "<h2>Statistics Report for pid 636</h2>"


def test_stats_holder_told_apart_by_counters_when_pids_collide():
    rows = judge.parse_stats_csv(CSV)
    lbs = {"hap1": {"pids": [636], "sessions": {"http-in": 74}},
           "hap2": {"pids": [519, 636], "sessions": {"http-in": 0}}}
    ok, detail = judge.judge_stats_holder(HTML, rows, "hap1", lbs)
    assert ok and "= hap1's" in detail
    ok, detail = judge.judge_stats_holder(HTML, rows, "hap2", lbs)
    assert not ok and "not hap2's" in detail


def test_stats_holder_pid_must_match():
    rows = judge.parse_stats_csv(CSV)
    lbs = {"hap1": {"pids": [700], "sessions": {"http-in": 74}}, "hap2": {"pids": [519], "sessions": {}}}
    assert not judge.judge_stats_holder(HTML, rows, "hap1", lbs)[0]
    assert not judge.judge_stats_holder("no header", rows, "hap1", lbs)[0]
    assert not judge.judge_stats_holder(HTML, rows, None, lbs)[0]


def test_stats_holder_node_name_when_shown():
    rows = judge.parse_stats_csv(CSV)
    lbs = {"hap1": {"pids": [636], "sessions": {"http-in": 75}}}
    assert judge.judge_stats_holder("Statistics Report for pid 636 on hap1", rows, "hap1", lbs)[0]
    ok, detail = judge.judge_stats_holder("Statistics Report for pid 636 on hap2", rows, "hap1", lbs)
    assert not ok and "on hap2" in detail


# --- logs ---

PROXIED = ('192.168.50.1 - - [25/Nov/2026:13:11:35 +0000] "GET /?hafab-verify=m1 HTTP/1.1" 200 376 "-" '
           '"hafab-verify/m1" via=192.168.50.11')
COMBINED = '192.168.50.11 - - [09/Jul/2016:13:22:52 +0000] "OPTIONS / HTTP/1.0" 200 180 "-" "-"'


def test_access_lines_of_both_formats_parse():
    entry = judge.parse_access_line(PROXIED)
    assert (entry["client"], entry["method"], entry["path"], entry["status"], entry["via"]) == \
        ("192.168.50.1", "GET", "/?hafab-verify=m1", "200", "192.168.50.11")
    entry = judge.parse_access_line(COMBINED)
    assert (entry["client"], entry["method"], entry["via"]) == ("192.168.50.11", "OPTIONS", None)
    assert judge.parse_access_line("garbage") is None


def test_health_checks_are_options_from_an_lb():
    lbs = {"192.168.50.11", "192.168.50.12"}
    client_options = COMBINED.replace("192.168.50.11", "192.168.50.1", 1)
    seed_style = COMBINED.replace("192.168.50.11", "-", 1)
    found = judge.health_check_lines([PROXIED, COMBINED, client_options, seed_style], lbs)
    assert found == [COMBINED, seed_style]


def test_health_checks_logged_before_the_configuration_was_loaded_do_not_count():
    lbs = {"192.168.50.11"}
    loaded = judge.apache_loaded("[Wed Nov 25 13:07:20.002572 2026] [mpm_event:notice] [pid 636:tid 636] "
                                 "AH00489: Apache/2.4.68 (Debian) configured -- resuming normal operations", "+0000")
    assert loaded == datetime(2026, 11, 25, 13, 7, 20, tzinfo=timezone.utc)
    line = '192.168.50.11 - - [25/Nov/2026:{} +0000] "OPTIONS / HTTP/1.0" 200 181 "-" "-"'
    before, same_second, after = line.format("13:07:19"), line.format("13:07:20"), line.format("13:07:21")
    assert judge.health_check_lines([before, same_second, after], lbs, loaded) == [after]
    assert judge.health_check_lines([before], lbs, None) == [before]


def test_apache_loaded_honours_the_host_offset():
    loaded = judge.apache_loaded("[Wed Nov 25 14:07:20.5 2026] [x] AH00489: ...", "+0100")
    assert loaded.astimezone(timezone.utc) == datetime(2026, 11, 25, 13, 7, 20, tzinfo=timezone.utc)
    assert judge.apache_loaded("", "+0000") is None


def test_access_log_needs_this_machines_address_on_the_serving_web():
    lbs = {"192.168.50.11", "192.168.50.12"}
    assert judge.judge_access_log({"web1": [PROXIED], "web2": []}, "m1", "192.168.50.1", lbs, "web1")[:2] == \
        ("web1", True)
    via_lb = PROXIED.replace("192.168.50.1 ", "192.168.50.11 ", 1)
    web, ok, detail = judge.judge_access_log({"web1": [via_lb]}, "m1", "192.168.50.1", lbs, "web1")
    assert not ok and "LB's address" in detail
    assert not judge.judge_access_log({"web1": [], "web2": []}, "m1", "192.168.50.1", lbs, "web1")[1]
    assert not judge.judge_access_log({"web1": [PROXIED], "web2": [PROXIED]}, "m1", "192.168.50.1", lbs, None)[1]
    web, ok, detail = judge.judge_access_log({"web2": [PROXIED]}, "m1", "192.168.50.1", lbs, "web1")
    assert (web, ok) == ("web2", False) and "page came from web1" in detail


def test_haproxy_log():
    assert judge.judge_haproxy_log(["x GET /?hafab-verify=m1"], "hap1")[0]
    assert not judge.judge_haproxy_log([], "hap1")[0]
    assert not judge.judge_haproxy_log(["x"], None)[0]


# --- VIP ---

LBS = {"hap1": (101, True), "hap2": (100, True)}


@pytest.mark.parametrize("holder", ["hap1", "hap2"])
def test_without_preempt_either_healthy_lb_may_hold_the_vip(holder):
    ok, detail = judge.judge_vip_holder([holder], LBS, preempt=False)
    assert ok and detail.startswith(holder)


def test_with_preempt_the_highest_priority_healthy_lb_must_hold_it():
    assert judge.judge_vip_holder(["hap1"], LBS, preempt=True)[0]
    ok, detail = judge.judge_vip_holder(["hap2"], LBS, preempt=True)
    assert not ok and "hap1 (priority 101)" in detail
    # hap1 unhealthy: hap2 is then the right holder
    assert judge.judge_vip_holder(["hap2"], {"hap1": (101, False), "hap2": (100, True)}, preempt=True)[0]


def test_no_holder_is_an_outage_and_two_are_split_brain():
    for preempt in (True, False):
        assert judge.judge_vip_holder([], LBS, preempt) == (False, "no LB holds the VIP (outage)")
        ok, detail = judge.judge_vip_holder(["hap1", "hap2"], LBS, preempt)
        assert not ok and "split brain" in detail


def test_unhealthy_holder_fails_without_preempt():
    assert not judge.judge_vip_holder(["hap1"], {"hap1": (101, False), "hap2": (100, True)}, False)[0]


def test_keepalived_master_on_holder_backup_elsewhere():
    assert judge.judge_keepalived("hap1", "MASTER", "hap1", True)[0]
    assert judge.judge_keepalived("hap2", "BACKUP", "hap1", True)[0]
    assert not judge.judge_keepalived("hap1", "BACKUP", "hap1", True)[0]
    assert not judge.judge_keepalived("hap2", "MASTER", "hap1", True)[0]
    assert not judge.judge_keepalived("hap2", "FAULT", "hap1", True)[0]
    assert judge.judge_keepalived("hap2", "STOPPED", "hap1", False)[0]   # services reports it


def test_keepalived_state_from_file_or_journal():
    assert judge.keepalived_state("file MASTER 1795612040.52 VI_1 101") == "MASTER"
    assert judge.keepalived_state("journal Entering BACKUP STATE") == "BACKUP"
    assert judge.keepalived_state("journal ") is None


def test_arp_must_point_at_the_holder():
    macs = {"hap1": "02:aa:00:00:00:01", "hap2": "02:aa:00:00:00:02"}
    assert judge.judge_arp("02:aa:00:00:00:01", "hap1", macs)[0]
    ok, detail = judge.judge_arp("02:aa:00:00:00:02", "hap1", macs)
    assert not ok and "hap2's MAC" in detail
    assert not judge.judge_arp(None, "hap1", macs)[0]
    assert not judge.judge_arp("02:aa:00:00:00:01", None, macs)[0]


def test_addresses_from_ip_addr():
    out = ("3: eth1    inet 192.168.50.11/24 brd 192.168.50.255 scope global eth1\n"
           "3: eth1    inet 192.168.50.10/32 scope global eth1\n")
    assert judge.addresses(out) == ["192.168.50.11", "192.168.50.10"]


# --- sysctl, config, units, sections ---

def test_nonlocal_bind_live_and_persisted():
    files = "/etc/sysctl.d/60-hafab.conf:net.ipv4.ip_nonlocal_bind = 1\n"
    assert judge.judge_nonlocal_bind("1\n", files) == (True, "live 1, persisted in /etc/sysctl.d/60-hafab.conf")
    assert not judge.judge_nonlocal_bind("0", files)[0]
    ok, detail = judge.judge_nonlocal_bind("1", "")
    assert not ok and "not persisted" in detail
    assert not judge.judge_nonlocal_bind("1", files + "/etc/sysctl.d/99-x.conf:net.ipv4.ip_nonlocal_bind=0\n")[0]
    assert not judge.judge_nonlocal_bind("1", "/etc/sysctl.conf:# net.ipv4.ip_nonlocal_bind=1\n")[0]


def test_haproxy_config_check():
    assert judge.judge_haproxy_config("Configuration file is valid\nrc=0") == \
        (True, "haproxy -c: Configuration file is valid")
    output = ("[ALERT]    (5833) : config : parsing [/etc/haproxy/haproxy.cfg:3] : unknown keyword 'bogus' in "
              "'frontend' section\n[ALERT]    (5833) : config : Error(s) found in configuration file : "
              "/etc/haproxy/haproxy.cfg\n[ALERT]    (5833) : config : Fatal errors found in configuration.\nrc=1")
    assert judge.judge_haproxy_config(output) == (False, "haproxy -c exit 1: parsing [/etc/haproxy/haproxy.cfg:3] : "
                                                         "unknown keyword 'bogus' in 'frontend' section")


def test_units_active_and_enabled():
    found = judge.units("haproxy active enabled\nkeepalived inactive enabled\napache2 active\n")
    assert judge.judge_units(found, ["haproxy"]) == (True, "haproxy active/enabled")
    ok, detail = judge.judge_units(found, ["haproxy", "keepalived", "apache2"])
    assert not ok and "keepalived inactive/enabled" in detail and "apache2 active/not-found" in detail


def test_sections_split_on_the_token():
    out = "noise\n@@t units\nhaproxy active enabled\n\n@@t addr\n\n@@t end\n"
    assert judge.sections(out, "@@t") == {"units": "haproxy active enabled", "addr": "", "end": ""}


# --- persistence ---

def with_cookie(resp, value):
    resp.set_cookies = [f"SERVERID={value}; path=/"]
    return resp


def test_cookie_keeps_a_client_on_its_server():
    first = with_cookie(page("web1"), "web1")
    ok, detail = judge.judge_cookie(first, pages(*["web1"] * 6), pages("web2", "web1"))
    assert ok and "6/6 on web1" in detail and "web1, web2" in detail
    ok, detail = judge.judge_cookie(first, pages("web1", "web2"), [])
    assert not ok and "1/2 requests left web1" in detail
    assert not judge.judge_cookie(page("web1"), pages("web1"), [])[0]   # no cookie set


def test_source_keeps_every_request_on_one_server():
    assert judge.judge_source(pages(*["web2"] * 5)) == (True, "5/5 requests from this machine on web2")
    assert not judge.judge_source(pages("web1", "web2"))[0]
