"""`swahr-infer predict --ray` checks its pool options and the results path before Ray starts
(QA findings: Ray tracebacks after a local Ray had started, --workers 0 silently the default,
a results path that is a folder failing only after the whole job)."""

import sys
from pathlib import Path

import pytest

from swahr_infer.cli import main

IMAGES = Path(__file__).resolve().parents[1] / "data" / "synthetic_coco" / "images"


def _ray_started():
    ray = sys.modules.get("ray")
    return ray is not None and hasattr(ray, "is_initialized") and ray.is_initialized()


@pytest.fixture(autouse=True)
def no_ray_running():
    if _ray_started():  # pragma: no cover - another test module left one running
        pytest.skip("a Ray is already running in this process")
    yield
    if _ray_started():
        sys.modules["ray"].shutdown()  # so that the next test starts clean
        pytest.fail("the check came after Ray started")


def _ray(tmp_path, *args):
    return main(["predict", str(IMAGES), "--ray", "--no-progress", *map(str, args)])


@pytest.mark.parametrize("args, message", [
    (["--workers", "-1"], "--workers must be at least 1, not -1"),
    (["--workers", "0"], "--workers must be at least 1, not 0"),
    (["--batch-size", "-3"], "--batch-size must be at least 1, not -3"),
    (["--batch-size", "0"], "--batch-size must be at least 1, not 0"),
    (["--gpus-per-worker", "-1"], "--gpus-per-worker must be 0 or more"),
    (["--gpus-per-worker", "nan"], "--gpus-per-worker must be 0 or more"),
])
def test_bad_pool_options_are_one_line_before_ray(tmp_path, capsys, args, message):
    out = tmp_path / "r.parquet"
    assert _ray(tmp_path, "--out", out, *args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("swahr-infer predict: error: ")
    assert message in err[0]
    assert not out.exists()


def test_a_results_path_that_is_a_folder_is_refused_before_ray(tmp_path, capsys):
    folder = tmp_path / "res" / "d.parquet"
    folder.mkdir(parents=True)
    assert _ray(tmp_path, "--out", folder) == 1
    assert capsys.readouterr().err.strip() == (
        f"swahr-infer predict: error: --out {folder}: is a folder; name the results file, "
        f"e.g. {folder / 'results.parquet'}")
    assert list(folder.parent.iterdir()) == [folder] and not list(folder.iterdir())


def test_help_lists_every_results_suffix(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for suffix in (".parquet", ".pq", ".jsonl", ".ndjson", ".json for JSON lines"):
        assert suffix in text


def test_the_format_error_lists_every_suffix(tmp_path, capsys):
    assert _ray(tmp_path, "--out", tmp_path / "poses.csv") == 2
    err = capsys.readouterr().err
    for suffix in (".parquet", ".pq", ".jsonl", ".ndjson", ".json"):
        assert suffix in err
