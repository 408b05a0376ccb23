"""The stats password never shows: not in provision's text or JSON (diffs included), check mode, verify,
or an outage report; the secrets file is 0600 and git-ignored."""

import os
import subprocess

import pytest

from tests.lab.conftest import REPO

pytestmark = pytest.mark.lab


def password(cluster):
    path = os.path.join(cluster.root, ".secrets", "stats-password")
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    with open(path) as f:
        return f.read().strip()


def test_the_secrets_file_is_git_ignored():
    result = subprocess.run(["git", "check-ignore", "-q", ".secrets/stats-password"], cwd=REPO)
    assert result.returncode == 0


def test_no_output_shows_the_stats_password(cluster):
    secret = password(cluster)
    template = os.path.join(cluster.root, "files/haproxy/haproxy.cfg")
    with open(template) as f:
        original = f.read()
    # a change right beside the `stats auth` line, so that its diff hunk carries the password line
    marker = "    stats uri /haproxy?stats"
    assert marker in original
    outputs = []
    try:
        with open(template, "w") as f:
            f.write(original.replace(marker, marker + "\n    # secret scan", 1))
        for args in (["provision", "--check"], ["provision", "--check", "--json"], ["provision"]):
            result = cluster.inv(*args, "--hosts", "hap2")
            outputs.append(result.stdout + result.stderr)
        assert "stats auth" in outputs[0] and "**********" in outputs[0]   # the hunk is shown, redacted
    finally:
        with open(template, "w") as f:
            f.write(original)
    result = cluster.inv("provision", "--json", "--hosts", "hap2")
    assert result.returncode == 0
    outputs.append(result.stdout + result.stderr)
    for args in (["verify"], ["verify", "--json"], ["outage", "--host", "web2", "--json", "--duration", "2"]):
        result = cluster.inv(*args, timeout=300)
        outputs.append(result.stdout + result.stderr)
    for text in outputs:
        assert secret not in text
