#!/usr/bin/env python3
"""A one-line template change: only that file and its watcher act, and what it costs.

    .venv/bin/python bench/change.py [--runs 3]

On the seed's lab (brought up and provisioned if down), in a copy of the project: a comment is added to
files/haproxy/haproxy.cfg (both LBs: the file and the haproxy reload) and to files/apache/index.html
(both webs: the file only), then taken out again; each provision is timed as a whole process.
"""

import argparse
import json
import os
import statistics
import time

from common import edit, inv, project_copy, provisioned_lab, spread

CHANGES = [
    ("haproxy.cfg on the LBs", "files/haproxy/haproxy.cfg", "\nfrontend", "\n# bench: {n}\nfrontend"),
    ("index.html on the webs", "files/apache/index.html", "</body>", "<!-- bench: {n} -->\n</body>"),
]


def provision(path, ssh_config):
    start = time.perf_counter()
    result = inv("provision", "--inventory", path, "--ssh-config", ssh_config, "--json")
    return time.perf_counter() - start, json.loads(result.stdout)


def acted(doc):
    return sorted({f"{ret['__id__']}" for rets in doc["hosts"].values() for ret in rets.values() if ret["changes"]})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with provisioned_lab(4) as path, project_copy(path) as (copy, ssh_config):
        root = os.path.dirname(copy)
        for label, template, old, new in CHANGES:
            with open(os.path.join(root, template)) as f:
                original = f.read()
            times, opens, states = [], [], None
            for n in range(args.runs):
                edit(root, template, old, new.format(n=n))
                seconds, doc = provision(copy, ssh_config)
                times.append(seconds)
                opens.append(max(doc["stats"]["channel_opens"].values()))
                states = acted(doc)
                with open(os.path.join(root, template), "w") as f:
                    f.write(original)
            provision(copy, ssh_config)  # back as it was
            print(f"{label}: {spread(times)} whole process, changed states {states}, "
                  f"channel opens on the busiest host {statistics.median(opens):g}")
        inv("provision", "--inventory", path)


if __name__ == "__main__":
    main()
