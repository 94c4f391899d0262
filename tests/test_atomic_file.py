"""swahr_infer.atomic_file: the one way swahr-infer replaces files (models, engines, results)."""

import os
import stat
import threading

import pytest

from swahr_infer.atomic_file import replacing, write_bytes, write_output, write_text


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    def set_mask(mask):
        os.umask(mask)

    old = os.umask(0o022)
    yield set_mask
    os.umask(old)


def test_a_new_file_gets_the_mode_open_would_give_it(tmp_path, umask):
    for mask, expected in ((0o022, 0o644), (0o027, 0o640), (0o002, 0o664)):
        umask(mask)
        path = write_bytes(tmp_path / f"engine_{mask:o}.plan", b"\x00\x01")
        assert path.read_bytes() == b"\x00\x01"
        assert _mode(path) == expected, oct(mask)  # not mkstemp's 0o600


def test_a_replaced_file_keeps_its_mode_and_missing_folders_are_made(tmp_path, umask):
    path = tmp_path / "a" / "b" / "results.json"
    write_text(path, "first")
    os.chmod(path, 0o600)
    write_text(path, "second")
    assert path.read_text() == "second" and _mode(path) == 0o600


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_beside_it(tmp_path):
    path = write_text(tmp_path / "model.onnx", "old")
    with pytest.raises(RuntimeError, match="died"):
        with replacing(path) as temporary:
            assert temporary.parent == tmp_path and temporary.exists()  # made before the work
            temporary.write_text("half")
            raise RuntimeError("died")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_a_folder_or_a_special_file_is_refused_before_the_work(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(IsADirectoryError):
        with replacing(tmp_path / "folder"):
            pytest.fail("the block must not run")
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(OSError, match="not a regular file"):
        with replacing(tmp_path / "pipe"):
            pytest.fail("the block must not run")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "pipe"]


def test_a_symbolic_link_is_kept_and_its_target_replaced(tmp_path):
    target = write_text(tmp_path / "real.json", "old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"


def test_a_named_output_is_replaced_when_a_file_and_written_through_when_a_stream(tmp_path):
    results = write_text(tmp_path / "results.json", "old")
    os.chmod(results, 0o640)
    write_output(results, "[1]")
    assert results.read_text() == "[1]" and _mode(results) == 0o640
    write_output(tmp_path / "new" / "metrics.json", "{}")  # folders made, as for files
    assert (tmp_path / "new" / "metrics.json").read_text() == "{}"
    # a pipe (``--json /dev/stdout`` under a pipe, ``--json >(jq .)``) cannot be replaced by a
    # rename; replacing() refuses it, write_output writes into it
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text()))
    reader.start()
    write_output(pipe, "streamed")
    reader.join(timeout=10)
    assert received == ["streamed"] and stat.S_ISFIFO(os.stat(pipe).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "pipe", "results.json"]
