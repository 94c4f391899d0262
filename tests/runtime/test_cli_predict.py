"""``swahr-infer predict`` on folders (with a corrupt file), single images and videos."""

import json
import subprocess
import sys

import cv2
import pytest

from swahr_infer.cli import main

from .conftest import blob_image


def test_folder_with_a_corrupt_image(tiny_model, image_dir, tmp_path, capsys):
    (image_dir / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (image_dir / "notes.txt").write_text("not an image, not even listed")
    out, results = tmp_path / "out", tmp_path / "results.json"
    code = main(["predict", str(image_dir), "--model", str(tiny_model), "--out", str(out),
                 "--json", str(results), "--threads", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert "skipping broken.jpg" in err and "failed:" in err
    assert "4 image(s)" in err and "1 failed" in err  # every input counts, as with --ray
    for name in ("a.jpg", "000123.png", "sub/c.png"):
        written = cv2.imread(str(out / name))
        assert written is not None and written.shape == cv2.imread(str(image_dir / name)).shape
    assert not (out / "broken.jpg").exists()
    entries = json.loads(results.read_text())
    assert entries, "the tiny model finds people in the blob images"
    ids = {(e["file_name"], e["image_id"]) for e in entries}
    # sorted order: 000123.png, a.jpg, broken.jpg, sub/c.png; not every stem is a number, so
    # every file gets its 0-based running index (000123.png too: 123 could be another's index)
    assert ids == {("000123.png", 0), ("a.jpg", 1), ("sub/c.png", 3)}
    for entry in entries:
        assert entry["category_id"] == 1 and len(entry["keypoints"]) == 17 * 3
        assert isinstance(entry["score"], float)


def test_single_image_and_clean_exit(tiny_model, image_dir, tmp_path, capsys):
    results = tmp_path / "one.json"
    code = main(["predict", str(image_dir / "a.jpg"), "--model", str(tiny_model), "--json",
                 str(results), "--no-flip", "--scales", "1", "2", "--no-progress"])
    assert code == 0
    assert "1 image(s)" in capsys.readouterr().err
    assert {e["file_name"] for e in json.loads(results.read_text())} == {"a.jpg"}


def test_video_is_annotated_frame_by_frame(tiny_model, tmp_path, capsys):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (128, 96))
    assert writer.isOpened()
    for seed in range(4):
        writer.write(blob_image(seed=seed))
    writer.release()
    out, results = tmp_path / "out", tmp_path / "video.json"
    code = main(["predict", str(video), "--model", str(tiny_model), "--out", str(out),
                 "--json", str(results), "--no-progress"])
    assert code == 0
    capture = cv2.VideoCapture(str(out / "clip_poses.mp4"))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == 4 and frames[0].shape == (96, 128, 3)
    entries = json.loads(results.read_text())
    assert {e["frame"] for e in entries} == {0, 1, 2, 3}
    assert "4 frame(s)" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["predict", "/no/such/place"], "no such file or folder"),
])
def test_errors_are_one_line(argv, message, capsys):
    assert main(argv) == 1
    assert message in capsys.readouterr().err


def test_empty_folder_and_missing_bundled_model(tiny_model, tmp_path, capsys, monkeypatch):
    assert main(["predict", str(tmp_path), "--model", str(tiny_model)]) == 1
    assert "no image files" in capsys.readouterr().err
    from swahr_infer import bundled

    monkeypatch.setattr(bundled, "DATA_DIR", tmp_path / "nothing")
    cv2.imwrite(str(tmp_path / "x.png"), blob_image())
    assert main(["predict", str(tmp_path / "x.png")]) == 1
    assert "--model" in capsys.readouterr().err


def test_cli_and_prediction_work_without_torch(tiny_model, image_dir, tmp_path):
    # a fresh interpreter where importing torch (or onnx) fails: help and prediction still work
    block = "import sys; sys.modules['torch'] = None; sys.modules['onnx'] = None\n"
    help_run = subprocess.run(
        [sys.executable, "-c", block + "from swahr_infer.cli import main\n"
         "sys.exit(main(['predict', '--help']))"], capture_output=True, text=True, timeout=120)
    assert help_run.returncode == 0, help_run.stderr
    assert "--scales" in help_run.stdout and "--json" in help_run.stdout
    results = tmp_path / "r.json"
    predict_run = subprocess.run(
        [sys.executable, "-c", block + "from swahr_infer.cli import main\n"
         "sys.exit(main(sys.argv[1:]))", "predict", str(image_dir / "a.jpg"), "--model",
         str(tiny_model), "--json", str(results), "--no-progress"],
        capture_output=True, text=True, timeout=120)
    assert predict_run.returncode == 0, predict_run.stderr
    assert json.loads(results.read_text())


def test_python_dash_m_runs_the_cli(tmp_path):
    # `python -m swahr_infer` is the command where no entry point is installed (a checkout on
    # PYTHONPATH, as scripts/gpu_*.sh use it); its exit code is the command's
    run = subprocess.run([sys.executable, "-m", "swahr_infer", "predict", str(tmp_path / "none.jpg"),
                          "--no-progress"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "none.jpg" in run.stderr
    assert "usage: swahr-infer" in subprocess.run(
        [sys.executable, "-m", "swahr_infer", "--help"], capture_output=True, text=True,
        timeout=120).stdout


def test_json_to_standard_output(tiny_model, image_dir):
    # --json /dev/stdout: the results file is a stream here (a pipe), written into, not
    # replaced by a rename as a results file is
    run = subprocess.run([sys.executable, "-m", "swahr_infer", "predict", str(image_dir / "a.jpg"),
                          "--model", str(tiny_model), "--json", "/dev/stdout", "--threads", "1",
                          "--no-progress"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert {entry["file_name"] for entry in json.loads(run.stdout)} == {"a.jpg"}


def test_gray_only_formats_get_a_png_copy_and_a_failed_write_loses_nothing(tiny_model, tmp_path,
                                                                            capsys):
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    gray = cv2.cvtColor(blob_image(seed=1), cv2.COLOR_BGR2GRAY)
    assert cv2.imwrite(str(inputs / "a.pgm"), gray)  # OpenCV writes .pgm in gray only
    for name in ("b.jpg", "c.png"):
        assert cv2.imwrite(str(inputs / name), blob_image(seed=2))
    (out / "b.jpg").mkdir(parents=True)  # b's annotated copy cannot be written: a folder there
    results = tmp_path / "poses.json"
    code = main(["predict", str(inputs), "--model", str(tiny_model), "--out", str(out),
                 "--json", str(results), "--threads", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1  # the write that failed is reported, as a failed read is
    assert "b.jpg: annotated image not written" in err and "1 failed" in err
    assert "[ERROR" not in err  # OpenCV's own log line for the refused .pgm probe stays quiet
    drawn = cv2.imread(str(out / "a.pgm.png"))  # colour skeletons on the gray picture
    assert drawn is not None and drawn.shape == (*gray.shape, 3)
    assert cv2.imread(str(out / "c.png")) is not None  # the file after the failed one ran
    # every file's poses are in the JSON, b's too: only its picture was lost
    names = {entry["file_name"] for entry in json.loads(results.read_text())}
    assert names == {"a.pgm", "b.jpg", "c.png"}


def test_a_long_run_into_a_log_reports_its_progress(tiny_model, tmp_path, capsys):
    """stderr captured (no terminal, as under nohup): status lines instead of a bar."""
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(20):
        assert cv2.imwrite(str(folder / f"{i:03d}.png"), blob_image(seed=i % 3))
    assert main(["predict", str(folder), "--model", str(tiny_model), "--threads", "1"]) == 0
    err = capsys.readouterr().err
    assert "predict: 1/20 img (5 %)" in err and "predict: 20/20 img (100 %)" in err
    assert "%|" not in err
    assert main(["predict", str(folder), "--model", str(tiny_model), "--threads", "1",
                 "--no-progress"]) == 0
    assert "predict: " not in capsys.readouterr().err


def test_a_uri_without_ray_is_a_one_line_error(tiny_model, capsys):
    assert main(["predict", "s3://bucket/frames/", "--model", str(tiny_model)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == ("swahr-infer predict: error: s3://bucket/frames/: URIs are read with --ray "
                   "only (Ray Data reads object storage in its workers); give a local file or "
                   "folder")
