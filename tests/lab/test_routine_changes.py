"""Routine changes under load cost clients nothing: a bounded load runs through the VIP while a provision
changes haproxy.cfg on both LBs, the Apache vhost on both webs, or keepalived.conf (rollout.py)."""

import json
import os
import time

import pytest

from hafab.outage import figures, load
from hafab.cluster import probe

pytestmark = pytest.mark.lab

CHANGES = [
    ("haproxy.cfg", "files/haproxy/haproxy.cfg", "\nfrontend", "\n# routine change\nfrontend",
     "/etc/haproxy/haproxy.cfg", ("hap1", "hap2")),
    ("apache vhost", "files/apache/000-default.conf", "<VirtualHost", "# routine change\n<VirtualHost",
     "/etc/apache2/sites-available/000-default.conf", ("web1", "web2")),
    ("keepalived.conf", "files/keepalived/keepalived.conf", "vrrp_instance", "# routine change\nvrrp_instance",
     "/etc/keepalived/keepalived.conf", ("hap1", "hap2")),
]


@pytest.mark.parametrize("what,template,old,new,target,hosts", CHANGES, ids=[c[0] for c in CHANGES])
def test_a_routine_change_under_load_fails_no_request(cluster, what, template, old, new, target, hosts):
    path = os.path.join(cluster.root, template)
    with open(path) as f:
        original = f.read()
    assert old in original
    traffic = load.Load(probe.Prober(cluster.inventory), cluster.inventory.cluster["vip"], rate=100,
                        max_seconds=90).start()
    try:
        time.sleep(1)
        with open(path, "w") as f:
            f.write(original.replace(old, new, 1))
        result = cluster.inv("provision", "--json")
        time.sleep(1)
    finally:
        samples = traffic.stop()
        with open(path, "w") as f:
            f.write(original)
    assert result.returncode == 0, result.stderr[-2000:]
    doc = json.loads(result.stdout)
    changed_hosts = {h for h, rets in doc["hosts"].items()
                     for ret in rets.values() if ret["changes"] and ret["__id__"] == target}
    assert changed_hosts == set(hosts)
    summary = figures.summarize(samples, 0.01)
    assert summary["requests"] >= 200  # two seconds of load at 100/s at least, around the provision
    assert summary["failed"] == 0, summary
    assert cluster.inv("provision").returncode == 0  # back to the original


def test_load_balancers_change_one_at_a_time_the_vip_holder_last(cluster):
    path = os.path.join(cluster.root, "files/haproxy/haproxy.cfg")
    with open(path) as f:
        original = f.read()
    holder = cluster.inv("lab.status", "--json")
    holder = json.loads(holder.stdout)["vip_holder"]
    with open(path, "w") as f:
        f.write(original.replace("\nfrontend", "\n# order\nfrontend", 1))
    try:
        result = cluster.inv("provision", "--roles", "lb", "--json")
    finally:
        with open(path, "w") as f:
            f.write(original)
    assert result.returncode == 0, result.stderr[-2000:]
    # Progress lines on stderr are in the order things happened.
    events = [line.split(" - ", 1)[1] for line in result.stderr.splitlines() if " - " in line]
    other = ({"hap1", "hap2"} - {holder}).pop()
    other_done = events.index(f"{other}: haproxy-service: changed")
    holder_first = events.index(f"{holder}: /etc/haproxy/haproxy.cfg: changed")
    assert other_done < events.index(f"{holder}: its turn to change") < holder_first, events
    assert cluster.inv("provision").returncode == 0
