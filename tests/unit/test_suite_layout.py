"""The suite itself: test module basenames are unique across tests/ (there is no __init__.py, so two
files of the same name break collection of the whole suite)."""

import collections
import os

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_module_basenames_are_unique():
    seen = collections.defaultdict(list)
    for directory, _, files in os.walk(TESTS):
        for name in files:
            if name.startswith("test_") and name.endswith(".py"):
                seen[name].append(os.path.relpath(os.path.join(directory, name), TESTS))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}
