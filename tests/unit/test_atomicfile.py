"""hafab/engine/atomicfile.py: a file replaced whole with its mode, or left as it was."""

import os
import stat

import pytest

from hafab.engine import atomicfile


@pytest.mark.parametrize("mode", [0o600, 0o644])
def test_the_new_file_has_the_data_and_the_mode_and_nothing_is_left_beside_it(tmp_path, mode):
    path = tmp_path / "out"
    path.write_bytes(b"old")
    atomicfile.write(str(path), b"new\n", mode)
    assert path.read_bytes() == b"new\n" and stat.S_IMODE(os.stat(path).st_mode) == mode
    assert os.listdir(tmp_path) == ["out"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        atomicfile.write(str(path), "not bytes", 0o600)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["out"]


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root (CI runs as root)")
def test_the_owner_given_is_the_new_files(tmp_path):
    path = tmp_path / "known_hosts"
    atomicfile.write(str(path), b"line\n", 0o640, owner=(1234, 4321))
    info = os.stat(path)
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (1234, 4321, 0o640)
    assert path.read_bytes() == b"line\n"
