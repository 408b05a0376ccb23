"""One host as the engine sees it: Salt's minion id, pillar and grains, and where it was declared.

The engine renders, targets and compiles from these alone; whoever builds them (the cluster, from its
own file) decides what goes into pillar and grains.
"""

from dataclasses import dataclass, field


@dataclass
class Minion:
    id: str
    pillar: dict = field(default_factory=dict)
    grains: dict = field(default_factory=dict)
    source: str = ""     # the file that declares it, for messages
    key: str = ""        # its key in that file ("hosts.web1")
