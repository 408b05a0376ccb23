"""The stats password never shows: not in provision's text or JSON (diffs included), check mode, verify,
or an outage report, on stdout or stderr (progress and error lines); nor, after it is changed, the old
one still live on the hosts; the secrets file is 0600 and git-ignored."""

import os
import secrets as random
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


def scan(secrets_, results):
    for result in results:
        for stream in (result.stdout, result.stderr):
            for secret in secrets_:
                assert secret not in stream, stream[-3000:]


def test_an_error_line_shows_no_stats_password(cluster):
    secret = password(cluster)
    sls = os.path.join(cluster.root, "states", "common.sls")
    with open(sls) as f:
        original = f.read()
    broken = {"mode": "scan-x:\n  file.managed:\n    - name: /tmp/scan-x\n    - contents: a\n"
                      "    - mode: {{ pillar['stats_password'] }}\n",
              "duplicate id": "dup-{{ pillar.stats_password }}:\n  cmd.run: [{name: a}]\n"
                              "dup-{{ pillar.stats_password }}:\n  cmd.run: [{name: b}]\n",
              "jinja": "{{ pillar[pillar.stats_password] }}\n"}
    results = []
    try:
        for text in broken.values():
            with open(sls, "w") as f:
                f.write(original + "\n" + text)
            for args in (["provision", "--check"], ["provision", "--json"]):
                result = cluster.inv(*args, "--hosts", "hap2")
                assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
                assert "**********" in result.stderr
                results.append(result)
    finally:
        with open(sls, "w") as f:
            f.write(original)
    scan([secret], results)


def test_a_changed_password_shows_neither_version(cluster):
    old = password(cluster)
    new = random.token_urlsafe(24)
    path = os.path.join(cluster.root, ".secrets", "stats-password")
    with open(path, "w") as f:
        f.write(new + "\n")
    results = [cluster.inv("provision", "--check", "--hosts", "hap2"),
               cluster.inv("provision", "--check", "--json", "--hosts", "hap2")]
    assert "stats auth 'admin:**********'" in results[0].stdout                 # the old line, masked
    assert results[0].stdout.count("stats auth") >= 2
    results += [cluster.inv("provision"), cluster.inv("provision", "--json")]
    assert results[2].returncode == 0, results[2].stdout[-3000:] + results[2].stderr[-3000:]
    results += [cluster.inv("verify", "--settle", "20"), cluster.inv("verify", "--json")]
    assert results[-1].returncode == 0, results[-1].stdout[-3000:]
    scan([old, new], results)
