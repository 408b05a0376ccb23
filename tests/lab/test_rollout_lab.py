"""The rollout on the lab: a drift on the VIP holder alone is repaired at once (the other LB, which
changes nothing, is never waited for)."""

import json

import pytest

from hafab import lab

pytestmark = pytest.mark.lab

SYSCTL_FILE = "/etc/sysctl.d/60-hafab.conf"


def test_drift_on_the_vip_holder_alone_is_repaired_in_seconds(cluster):
    holder = lab.status(cluster.inventory)["vip_holder"]
    assert holder in ("hap1", "hap2")
    other = "hap2" if holder == "hap1" else "hap1"
    drift = cluster.ssh(holder, f"sysctl -w net.ipv4.ip_nonlocal_bind=0 && rm {SYSCTL_FILE}")
    assert drift.returncode == 0, drift.stderr
    # Before the fix the holder waited for the other LB (which changes nothing) until --timeout and failed
    # with "waited too long for its turn to change": exit 0 within the timeout is the proof.
    result = cluster.inv("provision", "--json", "--timeout", "60", timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    doc = json.loads(result.stdout)
    changed = {host: sorted(ret["__id__"] for ret in rets.values() if ret["changes"])
               for host, rets in doc["hosts"].items()}
    assert changed[other] == [] and changed["web1"] == [] and changed["web2"] == [], changed
    assert changed[holder], changed  # the sysctl file and value came back, on the holder only
    assert cluster.ssh(holder, "sysctl -n net.ipv4.ip_nonlocal_bind").stdout.strip() == "1"
    assert cluster.ssh(holder, f"test -f {SYSCTL_FILE}").returncode == 0
