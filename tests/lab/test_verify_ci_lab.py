"""`inv verify` for CI and monitoring on the provisioned seed cluster (the session's `cluster` fixture):
the JUnit file a real `inv verify --junit` writes, parsed back, says what its `--json` says.
"""

import json
import os
import xml.etree.ElementTree as ET

import pytest

pytestmark = pytest.mark.lab


def stats_password(cluster):
    with open(os.path.join(cluster.root, ".secrets", "stats-password")) as fh:
        return fh.read().strip()


def verify_both(cluster, junit_path):
    result = cluster.inv("verify", "--json", "--junit", junit_path, "--settle", "30", timeout=120)
    assert result.returncode in (0, 1), result.stderr
    return result, json.loads(result.stdout)


def test_junit_file_matches_the_json(cluster, tmp_path):
    path = str(tmp_path / "verify.xml")
    result, doc = verify_both(cluster, path)
    assert result.returncode == 0, "\n".join(f"{c['name']} {c['host']}: {c['detail']}"
                                             for c in doc["checks"] if not c["ok"])
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    checks = doc["checks"]
    assert int(suite.get("tests")) == len(checks) == int(root.get("tests"))
    assert int(suite.get("failures")) == sum(1 for c in checks if not c["ok"]) == 0
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name"), c.find("system-out").text or "") for c in cases] == \
           [(c["host"], c["name"], c["detail"]) for c in checks]
    assert {c["name"] for c in checks} >= {"ssh", "round-robin", "stats-backends"}
    with open(path, encoding="utf-8") as fh:
        assert stats_password(cluster) not in fh.read()
    assert os.listdir(tmp_path) == ["verify.xml"]


def test_junit_failures_match_the_json(cluster, tmp_path):
    """A failing run (a web server's Apache stopped) has the same failures in both, with their evidence."""
    assert cluster.ssh("web2", "systemctl stop apache2").returncode == 0
    try:
        path = str(tmp_path / "failing.xml")
        result, doc = verify_both(cluster, path)
        assert result.returncode == 1
        failed = [(c["host"], c["name"], c["detail"]) for c in doc["checks"] if not c["ok"]]
        root = ET.parse(path).getroot()
        found = [(c.get("classname"), c.get("name"), c.find("failure").get("message"))
                 for c in root.iter("testcase") if c.find("failure") is not None]
        assert found == [(h, n, d.replace("\n", "\\n").replace("\t", "\\t")) for h, n, d in failed] and found
        assert int(root.get("failures")) == len(failed)
        assert ("web2", "services") in {(h, n) for h, n, _ in found}
    finally:
        assert cluster.ssh("web2", "systemctl start apache2").returncode == 0
    result, doc = verify_both(cluster, str(tmp_path / "again.xml"))
    assert result.returncode == 0, [c for c in doc["checks"] if not c["ok"]]
