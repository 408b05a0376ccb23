"""The verdict of one scenario from the settled end of its outage, for each line of the seed's table."""

import os

import pytest

from hafab.cluster.inventory import load as load_inventory
from hafab.outage import judging
from hafab.outage.load import Sample
from hafab.outage.scenario import expectation

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def inventory():
    return load_inventory(os.path.join(REPO, "hosts.yaml"))


def served(*servers, n=20):
    return [Sample(float(i), 200, servers[i % len(servers)], 0.002) for i in range(n)]


def answered(status, n=20):
    return [Sample(float(i), status, "503 Service Unavailable", 0.001) for i in range(n)]


def dark(n=20):
    return [Sample(float(i), None, None, 1.0, "refused") for i in range(n)]


HELD = (True, [])
# (id, broken, VIP holder before, healed, the settled samples, holders during, (held, reasons))
VERDICTS = [
    ("web1 down, served by web2", ["web1"], "hap1", (), served("web2"), ("hap1",), HELD),
    ("web1 down, web1 still serves", ["web1"], "hap1", (), served("web1", "web2"), ("hap1",),
     (False, ["served by web1, expected only web2"])),
    ("web2 down, served by web1", ["web2"], "hap1", (), served("web1"), ("hap1",), HELD),
    ("web2 down, web2 still serves", ["web2"], "hap1", (), served("web2"), ("hap1",),
     (False, ["served by web2, expected only web1"])),
    ("both webs down, 503", ["web1", "web2"], "hap1", (), answered(503), ("hap1",), HELD),
    ("both webs down, no answer", ["web1", "web2"], "hap1", (), dark(), ("hap1",),
     (False, ["20 of 20 requests got no answer"])),
    ("both webs down, still served", ["web1", "web2"], "hap1", (), served("web1"), ("hap1",),
     (False, ["20 answers were not 503 (e.g. 200)"])),
    ("hap1 down, hap2 serves", ["hap1"], "hap1", (), served("web1", "web2"), ("hap2",), HELD),
    ("hap1 down, the VIP stays on it", ["hap1"], "hap1", (), served("web1", "web2"), ("hap1",),
     (False, ["the VIP is on hap1, which is down"])),
    ("hap1 down, nobody takes the VIP", ["hap1"], "hap1", (), dark(), (),
     (False, ["no LB holds the VIP", "20 of 20 requests got no answer"])),
    ("hap2 down, hap1 keeps it", ["hap2"], "hap1", (), served("web1", "web2"), ("hap1",), HELD),
    ("backup down while it holds the VIP", ["hap2"], "hap2", (), served("web1", "web2"), ("hap1",), HELD),
    ("the keeper must not lose the VIP", ["web1"], "hap1", (), served("web2"), ("hap2",),
     (False, ["the VIP moved from hap1 to hap2 though hap1 was up"])),
    ("both LBs down, dark", ["hap1", "hap2"], "hap1", (), dark(), (), HELD),
    ("both LBs down, still answered", ["hap1", "hap2"], "hap1", (), served("web1"), ("hap2",),
     (False, ["20 of 20 requests were still answered (statuses [200])", "hap2 still holds the VIP"])),
    ("split brain", ["web1"], "hap1", (), served("web2"), ("hap1", "hap2"),
     (False, ["several LBs hold the VIP: hap1+hap2"])),
    ("failures in the settled part", ["hap1"], "hap1", (), served("web1", "web2") + dark(3), ("hap2",),
     (False, ["3 of 23 requests got no answer"])),
    ("too few requests to judge", ["web1"], "hap1", (), served("web2", n=2), ("hap1",),
     (False, ["only 2 requests in the settled part of the outage: too few to judge"])),
    ("killed webs restarted by systemd", ["web1", "web2"], "hap1", ["web1", "web2"], served("web1", "web2"),
     ("hap1",), HELD),
    ("a killed LB restarted, the VIP on hap2", ["hap1"], "hap1", ["hap1"], served("web1", "web2"), ("hap2",), HELD),
]


@pytest.mark.parametrize("broken,before,healed,tail,during,verdict", [row[1:] for row in VERDICTS],
                         ids=[row[0] for row in VERDICTS])
def test_judge(inventory, broken, before, healed, tail, during, verdict):
    assert judging.judge(expectation(inventory, broken, before, healed), tail, during) == verdict


@pytest.mark.parametrize("duration,tail", [(5, 1.5), (2, 0.6), (0.5, 0.5)])
def test_tail_seconds(duration, tail):
    assert judging.tail_seconds(duration) == tail


def test_settled_samples_are_those_finished_before_the_restore():
    samples = [Sample(9.0, 200, "web1", 0.002), Sample(9.5, 200, "web1", 0.002), Sample(9.9, 200, "web1", 0.2),
               Sample(9.95, None, None, 1.0, "timeout"), Sample(10.0, 200, "web1", 0.002)]
    assert judging.settled_samples(samples, 10.0, 0.6) == [samples[1], samples[3]]
