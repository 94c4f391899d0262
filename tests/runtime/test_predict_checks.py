"""``swahr-infer predict``: what is checked before the run, image ids, fatal model errors and
the end summary (each test reproduces a defect found on a clean clone)."""

import json
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from swahr_infer.cli import main

from .conftest import blob_image
from .tiny_model import pose_model

BROKEN = b"\xff\xd8 not a jpeg"


def _predict(*argv):
    return main(["predict", *map(str, argv), "--no-progress"])


def _error_lines(err):
    return [line for line in err.splitlines() if line.strip()]


# -- defect 1: --out must not overwrite the inputs, nor feed them ------------------------------

def test_out_equal_to_the_input_folder_is_refused_before_the_run(tiny_model, tmp_path, capsys):
    same = tmp_path / "same"
    same.mkdir()
    cv2.imwrite(str(same / "img.jpg"), blob_image(seed=1))
    original = (same / "img.jpg").read_bytes()
    assert _predict(same, "--model", tiny_model, "--out", same) == 1
    err = capsys.readouterr().err
    assert _error_lines(err) == [
        f"swahr-infer predict: error: --out: the annotated copy {same / 'img.jpg'} would "
        f"overwrite the input file {same / 'img.jpg'}; choose an --out folder apart from the "
        "inputs"]
    assert (same / "img.jpg").read_bytes() == original


def test_single_image_with_out_its_own_folder_is_refused(tiny_model, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "img.jpg"), blob_image(seed=1))
    original = (folder / "img.jpg").read_bytes()
    assert _predict(folder / "img.jpg", "--model", tiny_model, "--out", folder) == 1
    err = capsys.readouterr().err
    assert "overwrite" in err and str(folder / "img.jpg") in err
    assert (folder / "img.jpg").read_bytes() == original


def test_out_inside_the_input_folder_is_not_read_back(tiny_model, image_dir, tmp_path, capsys):
    out, results = image_dir / "annotated", tmp_path / "r.json"
    for _ in range(2):  # the second run finds the first run's pictures under INPUT
        assert _predict(image_dir, "--model", tiny_model, "--out", out, "--json", results) == 0
        assert "3 image(s)" in capsys.readouterr().err
    assert not (out / "annotated").exists()
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["000123.png", "a.jpg", "sub/c.png"]
    assert {e["file_name"] for e in json.loads(results.read_text())} == set(written)


# -- defect 2: output paths are checked before the run -----------------------------------------

def test_json_naming_a_folder_fails_before_the_run(tiny_model, image_dir, tmp_path, capsys):
    (image_dir / "broken.jpg").write_bytes(BROKEN)
    folder = tmp_path / "existing"
    folder.mkdir()
    assert _predict(image_dir, "--model", tiny_model, "--json", folder) == 1
    err = capsys.readouterr().err
    assert _error_lines(err) == [f"swahr-infer predict: error: --json {folder}: is a folder; "
                                 f"name the results file, e.g. {folder / 'results.json'}"]


def test_json_folder_that_cannot_be_created(tiny_model, image_dir, tmp_path, capsys):
    (image_dir / "broken.jpg").write_bytes(BROKEN)
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file where a folder should be")
    assert _predict(image_dir, "--model", tiny_model, "--json", blocker / "r.json") == 1
    err = capsys.readouterr().err
    assert len(_error_lines(err)) == 1 and "cannot be created" in err and "skipping" not in err


def test_out_naming_a_file_fails_before_the_run(tiny_model, image_dir, tmp_path, capsys):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (128, 96))
    for seed in range(2):
        writer.write(blob_image(seed=seed))
    writer.release()
    existing = tmp_path / "existing_file"
    existing.write_text("keep me")
    for source in (image_dir, video):
        assert _predict(source, "--model", tiny_model, "--out", existing) == 1
        err = capsys.readouterr().err
        assert _error_lines(err) == [f"swahr-infer predict: error: --out {existing}: is a file; "
                                     "--out names the folder for the annotated images"]
    assert existing.read_text() == "keep me"


# -- defect 3: image ids are unique within a run -----------------------------------------------

def _ids(results):
    return {e["file_name"]: e["image_id"] for e in json.loads(results.read_text())}


def test_image_ids_are_unique_and_odd_digits_do_not_crash(tiny_model, tmp_path, capsys):
    ids = tmp_path / "ids"
    (ids / "sub").mkdir(parents=True)
    for seed, name in enumerate(("1.jpg", "sub/1.jpg", "a.jpg", "b.jpg", "000002.png", "².jpg")):
        # imencode + tofile: cv2.imwrite cannot write every non-ASCII name on every platform
        cv2.imencode(".png", blob_image(seed=seed))[1].tofile(str(ids / name))
    results = tmp_path / "r.json"
    assert _predict(ids, "--model", tiny_model, "--json", results) == 0
    assert "6 image(s)" in capsys.readouterr().err
    # not all stems are numbers: every file gets its 0-based place in sorted order
    assert _ids(results) == {"000002.png": 0, "1.jpg": 1, "a.jpg": 2, "b.jpg": 3,
                             "sub/1.jpg": 4, "².jpg": 5}


def test_distinct_numeric_stems_keep_their_numbers(tiny_model, tmp_path):
    folder = tmp_path / "coco"
    folder.mkdir()
    cv2.imwrite(str(folder / "000000000785.jpg"), blob_image(seed=1))
    cv2.imwrite(str(folder / "7.png"), blob_image(seed=2))
    results = tmp_path / "r.json"
    assert _predict(folder, "--model", tiny_model, "--json", results) == 0
    assert _ids(results) == {"000000000785.jpg": 785, "7.png": 7}


# -- defect 4: a model whose outputs break its metadata stops the run --------------------------

def test_wrong_output_channels_stop_the_run_with_one_line(image_dir, tmp_path, capsys):
    model = pose_model(tmp_path / "two_channels.onnx", channels=2)
    results = tmp_path / "r.json"
    assert _predict(image_dir, "--model", model, "--json", results) == 1
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1, lines  # not one "skipping" line per image
    assert lines[0].startswith("swahr-infer predict: error: ")
    assert "'heatmaps' has shape (2, 2, " in lines[0] and "metadata" in lines[0]
    assert not results.exists()


def test_non_finite_outputs_stay_a_per_image_skip(image_dir, tmp_path, capsys):
    cv2.imwrite(str(image_dir / "black.png"), np.zeros((64, 64, 3), np.uint8))
    model = pose_model(tmp_path / "nan_on_black.onnx", nan_when_black=True)
    results = tmp_path / "r.json"
    assert _predict(image_dir, "--model", model, "--json", results) == 1
    err = capsys.readouterr().err
    assert "skipping black.png" in err and "non-finite" in err
    assert "4 image(s)" in err and "1 failed" in err
    assert "black.png" not in _ids(results) and _ids(results)


# -- defect 5: "skipping" lines do not land on the progress bar --------------------------------

@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_skip_messages_are_printed_above_the_progress_bar(tiny_model, image_dir):
    import fcntl
    import pty
    import select
    import struct
    import termios

    (image_dir / "broken.jpg").write_bytes(BROKEN)
    master, slave = pty.openpty()  # a terminal, so that tqdm draws its bar
    # a new pseudo-terminal is 0 columns wide, which gives an empty bar: make it 100 wide
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "swahr_infer", "predict", str(image_dir), "--model",
         str(tiny_model)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 1)[0]:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        process.kill() if process.poll() is None else None
    assert process.wait(timeout=30) == 1
    text = b"".join(chunks).decode("utf-8", "replace")
    assert "%|" in text, text  # the bar was drawn
    start = text.index("swahr-infer predict: skipping broken.jpg")
    # printed after the bar was cleared ("\r"), not glued to the end of the bar ("...img/s]")
    assert text[start - 1] in "\r\n", repr(text[max(0, start - 80):start + 40])


# -- defect 6: the summary counts every input --------------------------------------------------

def test_summary_counts_every_input_like_the_ray_path(tiny_model, tmp_path, capsys):
    folder = tmp_path / "mostly_bad"
    folder.mkdir()
    cv2.imwrite(str(folder / "good.jpg"), blob_image(seed=1))
    for name in ("bad1.jpg", "bad2.png", "bad3.jpg"):
        (folder / name).write_bytes(BROKEN)
    assert _predict(folder, "--model", tiny_model) == 1
    summary = [line for line in capsys.readouterr().err.splitlines() if "person(s)" in line]
    assert len(summary) == 1 and summary[0].startswith("4 image(s), ")
    assert summary[0].endswith(", 3 failed")


# -- defect 7: option values checked up front --------------------------------------------------

@pytest.mark.parametrize("option, value, message", [
    ("--min-score", "nan", "--min-score must be a finite number, not nan"),
    ("--min-score", "inf", "--min-score must be a finite number, not inf"),
    ("--joint-threshold", "nan", "--joint-threshold must be a finite number, not nan"),
    ("--threads", "-1", "--threads must be 0 (the backend's choice) or a positive count, not -1"),
])
def test_bad_option_values_are_one_line_errors(tiny_model, image_dir, option, value, message,
                                               capsys):
    assert _predict(image_dir, "--model", tiny_model, option, value) == 1
    assert _error_lines(capsys.readouterr().err) == [f"swahr-infer predict: error: {message}"]


def test_threads_zero_is_the_backends_choice(tiny_model, image_dir, capsys):
    assert _predict(image_dir / "a.jpg", "--model", tiny_model, "--threads", "0",
                    "--min-score", "0.0") == 0
    assert "1 image(s)" in capsys.readouterr().err
