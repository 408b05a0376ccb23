"""Write a flat, local apt repository (Packages + Release) over a directory of .deb files.

Written in Python with `dpkg-deb -f` so the machine needs nothing beyond dpkg to build it.
"""

import glob
import gzip
import hashlib
import os
import time

from hafab.lab.run import run


def index(repo_dir):
    """Write Packages, Packages.gz and Release for every .deb in repo_dir; return the package count."""
    debs = sorted(glob.glob(os.path.join(repo_dir, "*.deb")))
    stanzas = [_stanza(repo_dir, deb) for deb in debs]
    packages = "\n".join(stanzas).encode()
    with open(os.path.join(repo_dir, "Packages"), "wb") as f:
        f.write(packages)
    with gzip.open(os.path.join(repo_dir, "Packages.gz"), "wb") as f:
        f.write(packages)
    _release(repo_dir, ("Packages", "Packages.gz"))
    return len(debs)


def _stanza(repo_dir, deb):
    control = run(["dpkg-deb", "-f", deb], timeout=30).rstrip("\n")
    with open(deb, "rb") as f:
        data = f.read()
    return (f"{control}\nFilename: ./{os.path.relpath(deb, repo_dir)}\nSize: {len(data)}\n"
            f"MD5sum: {hashlib.md5(data).hexdigest()}\nSHA256: {hashlib.sha256(data).hexdigest()}\n")


def _release(repo_dir, names):
    lines = ["Origin: hafab-lab", "Label: hafab-lab",
             "Date: " + time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime()), "SHA256:"]
    for name in names:
        with open(os.path.join(repo_dir, name), "rb") as f:
            data = f.read()
        lines.append(f" {hashlib.sha256(data).hexdigest()} {len(data)} {name}")
    with open(os.path.join(repo_dir, "Release"), "w") as f:
        f.write("\n".join(lines) + "\n")
