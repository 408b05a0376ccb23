"""hafab/engine/transport.py: what a failed remote command becomes."""

import types

import pytest

from hafab.engine import transport
from hafab.engine.errors import HostError


@pytest.mark.parametrize("exit_status,stdout,stderr,message", [
    (1, "", "no such unit\n", "web1: stop failed: no such unit"),
    (1, "out only", "", "web1: stop failed: out only"),
    (2, "", "x" * 300, "web1: stop failed: " + "x" * 200),
    (3, "", "", "web1: stop failed: exit 3")])
def test_checked_names_what_failed(exit_status, stdout, stderr, message):
    result = types.SimpleNamespace(exit_status=exit_status, stdout=stdout, stderr=stderr)
    with pytest.raises(HostError) as err:
        transport.checked(result, "web1: stop")
    assert str(err.value) == message


def test_checked_passes_a_success_through():
    result = types.SimpleNamespace(exit_status=0, stdout="", stderr="")
    assert transport.checked(result, "web1: stop") is result
