"""The stats password file (made 0600 in a 0700 directory, refused when others can read it) and redaction."""

import os
import stat

import pytest

from hafab.cluster import inventory
from hafab.cluster import secrets
from hafab.engine.errors import InputError

HOSTS = """\
cluster: {vip: 10.0.0.10, subnet: 10.0.0.0/24, interface: eth1, virtual_router_id: 7}
hosts:
  web1: {address: 10.0.0.21, roles: [web]}
"""


@pytest.fixture
def inv(tmp_path):
    (tmp_path / "hosts.yaml").write_text(HOSTS)
    return inventory.load(str(tmp_path / "hosts.yaml"))


def test_created_once_with_private_modes(inv, tmp_path):
    password = secrets.stats_password(inv)
    path = tmp_path / ".secrets" / "stats-password"
    assert len(password) >= 32 and path.read_text().strip() == password
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert os.listdir(path.parent) == ["stats-password"]  # no temp file left behind
    assert secrets.stats_password(inv) == password


def test_existing_file_is_read(inv, tmp_path):
    (tmp_path / ".secrets").mkdir(mode=0o700)
    path = tmp_path / ".secrets" / "stats-password"
    path.write_text("s3cret-existing-value\n")
    path.chmod(0o600)
    assert secrets.stats_password(inv) == "s3cret-existing-value"


def test_group_or_world_readable_file_is_refused(inv, tmp_path):
    (tmp_path / ".secrets").mkdir()
    path = tmp_path / ".secrets" / "stats-password"
    path.write_text("x" * 20)
    path.chmod(0o644)
    with pytest.raises(InputError) as info:
        secrets.stats_password(inv)
    assert str(info.value) == (".secrets/stats-password (cluster.stats_password_file): "
                               "mode 0644 lets other users read it: run chmod 600 on it")
    assert info.value.exit_code == 2


def test_redact_replaces_every_registered_secret_recursively(inv):
    password = secrets.stats_password(inv)
    secrets.register("other-secret")
    data = {"a": f"user:{password}", "b": [f"x {password} y", ("other-secret", 3)], password: None}
    assert secrets.redact(data) == {"a": "user:**********", "b": ["x ********** y", ("**********", 3)],
                                    "**********": None}
    assert secrets.redact("nothing here") == "nothing here"
    assert secrets.redact(42) == 42
