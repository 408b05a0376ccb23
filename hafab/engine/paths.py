"""Paths of the state tree: a file named under a folder (states/, files/) must resolve inside that folder.

A symbolic link is followed only while it stays inside: `files/evil -> /etc/shadow` is refused, a link
to another file of the same folder is fine.
"""

import os

from hafab.engine.errors import InputError


def inside(path, folder):
    """True when `path`, every link resolved (os.path.realpath), lies strictly inside `folder` (resolved)."""
    real_folder = os.path.realpath(folder)
    return os.path.realpath(path).startswith(real_folder + os.sep)


def outside_message(rel, folder_name):
    return f"{rel} resolves outside {folder_name}/ (a symbolic link): refusing to read it"


def require_inside(path, folder, root, where=None):
    """Raise InputError (naming `where`, else the path) when `path` resolves outside `folder`."""
    if not inside(path, folder):
        rel = os.path.relpath(path, root)
        if where is None:
            raise InputError(rel, f"resolves outside {os.path.basename(folder)}/ (a symbolic link): refusing to read it")
        raise InputError(where, outside_message(rel, os.path.basename(folder)))
    return path
