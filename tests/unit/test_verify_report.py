"""verify's report: the text table (columns, marks, colour, summary line) and the JSON document."""

from hafab.engine import boundary
from hafab.verify.report import Check, Report, table


def report(checks, duration=0.4321):
    return Report(checks, duration)


def test_table_and_json_shapes():
    checks = [Check(f"check{i}", "web1", True, "fine") for i in range(28)] + [Check("x", "hap1", False, "broken")]
    rep = report(checks)
    text = table(rep)
    assert text.splitlines()[-1] == "29 checks, 28 passed, 1 failed in 0.43 s"
    assert "✗" in text and "✓" in text
    doc = rep.as_dict()
    assert set(doc) == {"ok", "checks"} and doc["ok"] is False
    assert set(doc["checks"][0]) == {"name", "host", "ok", "detail"}


def test_table_lines_exactly():
    rep = report([Check("ssh", "hap1", True, "connected"), Check("round-robin", "vip", False, "never web2")], 1.5)
    assert table(rep) == ("check        host  ok  detail\n"
                          "ssh          hap1  ✓   connected\n"
                          "round-robin  vip   ✗   never web2\n"
                          "\n"
                          "2 checks, 1 passed, 1 failed in 1.50 s\n")


def test_colour_marks_only():
    text = boundary.text(table(report([Check("ssh", "hap1", True, "ok"), Check("vip-arp", "vip", False, "no")]),
                               colour=True))
    assert "\033[0;32m✓\033[0m   ok" in text and "\033[0;31m✗\033[0m   no" in text


def test_ok_and_dict_of_a_clean_report():
    rep = report([Check("ssh", "hap1", True, "connected")])
    assert rep.ok and rep.as_dict() == {"ok": True, "checks": [
        {"name": "ssh", "host": "hap1", "ok": True, "detail": "connected"}]}
    assert report([]).ok
