"""`inv verify --junit FILE` (hafab/verify/junit.py): the Report as JUnit XML, parsed back with
xml.etree; every string through the output boundary; the file written atomically; a bad path is exit 2.
"""

import os
import secrets as _random
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from hafab.engine import boundary
from hafab.engine.errors import InputError
from hafab.verify import junit
from hafab.verify.report import Check, Report

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = "junit-secret-" + _random.token_hex(8)
boundary.register(SECRET)

REPORT = Report([Check("ssh", "hap1", True, "connected and ran the fact script (0.10 s to connect)"),
                 Check("services", "web1", False, "apache2 inactive"),
                 Check("round-robin", "vip", True, "web1 10, web2 10"),
                 Check("stats-auth", "vip", False, "500 without credentials, None with the cluster's")], 1.5)


def parsed(report):
    return ET.fromstring(junit.xml_bytes(report))


def cases(root):
    return root.findall("./testsuite/testcase")


def test_counts_match_the_checks():
    root = parsed(REPORT)
    suite = root.find("testsuite")
    for element in (root, suite):
        assert element.get("tests") == "4" and element.get("failures") == "2"
        assert element.get("errors") == "0" and element.get("time") == "1.500"
    assert suite.get("skipped") == "0" and suite.get("name") == junit.SUITE


@pytest.mark.parametrize("index", range(len(REPORT.checks)))
def test_one_testcase_per_check_with_its_evidence(index):
    check, case = REPORT.checks[index], cases(parsed(REPORT))[index]
    assert (case.get("classname"), case.get("name")) == (check.host, check.name)
    assert case.find("system-out").text == check.detail
    failure = case.find("failure")
    if check.ok:
        assert failure is None
    else:
        assert failure.get("message") == check.detail and failure.text == check.detail


def test_every_check_has_one_testcase():
    assert len(cases(parsed(REPORT))) == len(REPORT.checks)
    assert cases(parsed(Report([], 0.0))) == []


HOSTILE = {
    "escape-sequence": ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    "nul": ("a\x00b", "a\\x00b"),
    "bell-and-backspace": ("x\x07\x08y", "x\\x07\\x08y"),
    "carriage-return": ("ok\rFAKE", "ok\\rFAKE"),
    "markup": ("<failure message=\"x\"/>&amp;]]>'", "<failure message=\"x\"/>&amp;]]>'"),
    "c1-control": ("a\x85\x9bb", "a\\x85\\x9bb"),
    "bidi-override": ("abc\u202edef", "abc\\u202edef"),
    "not-utf8-byte": ("a\udc80b", "a\\x80b"),
    "xml-noncharacters": ("a\ufffe\uffffb", "a\\ufffe\\uffffb"),
    "secret": (f"password={SECRET} here", f"password={boundary.MASK} here"),
    "delete": ("a\x7fb", "a\\x7fb"),
}


@pytest.mark.parametrize("detail, expected", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_detail_is_escaped_and_parses(detail, expected):
    report = Report([Check("page", "web1", False, detail), Check("page", "web2", True, detail)], 0.1)
    data = junit.xml_bytes(report)
    assert SECRET.encode() not in data
    failed, passed = cases(ET.fromstring(data))
    assert failed.find("failure").get("message") == expected
    assert failed.find("failure").text == expected and passed.find("system-out").text == expected


@pytest.mark.parametrize("detail, message, out", [("two\nlines", "two\\nlines", "two\nlines"),
                                                  ("tab\there", "tab\\there", "tab\there")])
def test_message_is_one_line_the_output_keeps_lines(detail, message, out):
    case = cases(parsed(Report([Check("x", "h", False, detail)], 0.0)))[0]
    assert case.find("failure").get("message") == message and case.find("system-out").text == out


@pytest.mark.parametrize("host, name", [("h\x1bost", "na\x00me"), (SECRET, f"check {SECRET}")])
def test_host_and_name_pass_the_boundary(host, name):
    data = junit.xml_bytes(Report([Check(name, host, True, "")], 0.0))
    case = cases(ET.fromstring(data))[0]
    assert SECRET.encode() not in data and "\x1b" not in case.get("classname") and "\x00" not in case.get("name")


def test_write_is_atomic_and_replaces(tmp_path):
    target = tmp_path / "junit.xml"
    target.write_text("old")
    junit.write(REPORT, str(target))
    assert len(cases(ET.parse(target).getroot())) == 4
    assert os.listdir(tmp_path) == ["junit.xml"]          # no temporary file left behind
    assert stat.S_IMODE(os.stat(target).st_mode) == junit.FILE_MODE


def test_write_through_a_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    junit.write(REPORT, "out.xml")
    assert ET.parse(tmp_path / "out.xml").getroot().tag == "testsuites"


@pytest.mark.parametrize("make, words", [
    (lambda d: str(d / "missing" / "j.xml"), "does not exist"),
    (lambda d: str(d), "is a directory"),
    (lambda d: (d / "file").write_text("") or str(d / "file" / "j.xml"), "is not a directory"),
    (lambda d: "/proc/1/j.xml", "is not writable"),   # not even root may create files there
])
def test_bad_target_is_input_error(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(InputError) as caught:
        junit.check_target("--junit", path)
    assert str(caught.value).startswith("--junit: ") and words in str(caught.value)


def test_good_target_is_accepted(tmp_path):
    assert junit.check_target("--junit", str(tmp_path / "new.xml")) == str(tmp_path / "new.xml")
    assert not (tmp_path / "new.xml").exists()


HOSTS = """\
cluster: {vip: 10.124.0.10, subnet: 10.124.0.0/24, interface: eth1, virtual_router_id: 7}
hosts:
  hap1: {address: 10.124.0.11, roles: [lb], priority: 101}
  web1: {address: 10.124.0.21, roles: [web]}
"""


@pytest.mark.parametrize("flags, words", [
    (["--junit", "/nonexistent-hafab/j.xml"], "does not exist"),
    (["--junit", "/"], "is a directory"),
    (["--junit", "/proc/1/j.xml"], "is not writable"),
    (["--junit"], "needs a value"),
    (["--junit", "a\x1bb.xml"], "control character"),
    (["--json", "--junit", "/nonexistent-hafab/j.xml"], "does not exist"),
])
def test_cli_bad_junit_path_is_exit_2_one_line(tmp_path, flags, words):
    (tmp_path / "hosts.yaml").write_text(HOSTS)
    result = subprocess.run([sys.executable, "-m", "invoke", "verify", "--inventory", str(tmp_path / "hosts.yaml"),
                             *flags], cwd=REPO, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "--junit" in result.stderr and words in result.stderr
    assert not (tmp_path / ".secrets").exists()


def test_help_describes_junit():
    result = subprocess.run([sys.executable, "-m", "invoke", "--help", "verify"], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    line = next(x for x in result.stdout.splitlines() if x.strip().startswith("--junit"))
    assert "JUnit XML" in result.stdout and len(line.split(None, 1)) == 2, line
