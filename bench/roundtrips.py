#!/usr/bin/env python3
"""SSH channel opens (exec) per host: for a no-op provision and for a one-file change.

    .venv/bin/python bench/roundtrips.py

Runs on the seed's lab (brought up and provisioned if it is down). The one-file change edits a comment
in a copy of files/haproxy/haproxy.cfg, so the LBs change one file and reload haproxy; the webs do
nothing. Target: a no-op costs at most 2 per host.
"""

import json
import os

from common import edit, inv, project_copy, provisioned_lab


def channel_opens(path, ssh_config):
    """{host: channel opens} of one provision (hafab counts them itself: HAFAB_STATS prints them)."""
    result = inv("provision", "--inventory", path, "--ssh-config", ssh_config, "--json", check=False)
    doc = json.loads(result.stdout)
    return doc["stats"]["channel_opens"], doc["summary"]["changed"]


def main():
    with provisioned_lab(4) as path, project_copy(path) as (copy, ssh_config):
        noop, _ = channel_opens(copy, ssh_config)
        edit(os.path.dirname(copy), "files/haproxy/haproxy.cfg", "\nfrontend", "\n# bench change\nfrontend")
        change, changed = channel_opens(copy, ssh_config)
        inv("provision", "--inventory", path)  # back to the repository's own config
    print("SSH channel opens per host (exec; the lock and the facts share the first):")
    print(f"  {'host':<8}{'no-op':>8}{'one-file change':>18}")
    for host in noop:
        print(f"  {host:<8}{noop[host]:>8}{change[host]:>18}")
    print(f"  (the change run changed {changed} states: haproxy.cfg and the haproxy reload on each LB)")


if __name__ == "__main__":
    main()
