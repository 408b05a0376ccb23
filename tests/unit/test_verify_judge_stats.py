"""verify's judgement of HAProxy's stats page through the VIP, with plain data: backends UP, the holder's page."""

import pytest

from hafab.cluster import haproxy
from hafab.verify import judge_stats

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
HTML = "<h2>Statistics Report for pid 636</h2>"


@pytest.fixture
def rows():
    return haproxy.parse_stats_csv(CSV)


def test_stats_csv_parsed_by_header_names(rows):
    assert [(r["pxname"], r["svname"]) for r in rows][:2] == [("http-in", "FRONTEND"), ("webservers", "web1")]
    assert rows[1]["status"] == "UP" and rows[2]["check_status"] == "L4CON"
    assert haproxy.parse_stats_csv("<html>401</html>") == []


def test_backends_all_up_or_named(rows):
    ok, detail = judge_stats.judge_backends(rows, ["web1", "web2"])
    assert not ok and detail == "web1 UP (L7OK), web2 DOWN (L4CON)"
    rows[2]["status"] = "UP"
    assert judge_stats.judge_backends(rows, ["web1", "web2"])[0]
    ok, detail = judge_stats.judge_backends(rows, ["web1", "web3"])
    assert not ok and "web3 missing" in detail
    assert judge_stats.judge_backends([], ["web1"]) == (False, "no CSV stats")


def test_frontend_sessions_leave_out_the_health_frontend(rows):
    assert judge_stats.frontend_sessions(rows) == {"http-in": 74}


def test_stats_holder_told_apart_by_counters_when_pids_collide(rows):
    lbs = {"hap1": {"pids": [636], "sessions": {"http-in": 74}},
           "hap2": {"pids": [519, 636], "sessions": {"http-in": 0}}}
    ok, detail = judge_stats.judge_stats_holder(HTML, rows, "hap1", lbs)
    assert ok and "= hap1's" in detail
    ok, detail = judge_stats.judge_stats_holder(HTML, rows, "hap2", lbs)
    assert not ok and "not hap2's" in detail


@pytest.mark.parametrize("html, holder", [(HTML, "hap1"), ("no header", "hap1"), (HTML, None)],
                         ids=["pid not the holder's", "no pid on the page", "no holder"])
def test_stats_holder_pid_must_match(rows, html, holder):
    lbs = {"hap1": {"pids": [700], "sessions": {"http-in": 74}}, "hap2": {"pids": [519], "sessions": {}}}
    assert not judge_stats.judge_stats_holder(html, rows, holder, lbs)[0]


def test_stats_holder_node_name_when_shown(rows):
    lbs = {"hap1": {"pids": [636], "sessions": {"http-in": 75}}}
    assert judge_stats.judge_stats_holder("Statistics Report for pid 636 on hap1", rows, "hap1", lbs)[0]
    ok, detail = judge_stats.judge_stats_holder("Statistics Report for pid 636 on hap2", rows, "hap1", lbs)
    assert not ok and "on hap2" in detail
