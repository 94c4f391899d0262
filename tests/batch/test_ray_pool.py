"""Acceptance: a folder through a local Ray with two workers gives exactly the single-process
poses, in input order when asked, with the corrupt image as a failure row and nothing lost.

One local Ray (2 CPUs) serves the whole module; starting it and each actor pool takes seconds,
so the module is marked slow, but it runs in the default test command.
"""

import json

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install \"swahr-infer[ray]\")")
pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install \"ray[data]\")")

from swahr_infer.batch import list_images, pose_dataset, read_results, run_batch  # noqa: E402
from swahr_infer.cli import main  # noqa: E402

from .conftest import ESTIMATOR_OPTIONS, assert_rows_match  # noqa: E402

pytestmark = [pytest.mark.slow,
              # Ray Data's own deprecated options, warned about whenever it copies its context
              pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, object_store_memory=128 * 2 ** 20,
                 log_to_driver=False)
    yield
    if started:
        ray.shutdown()


def test_folder_in_order_matches_single_process(batch_model, people_dir, expected, tmp_path):
    out = tmp_path / "poses.parquet"
    summary = run_batch(people_dir, out, batch_model, workers=2, batch_size=2,
                        preserve_order=True, progress=False, **ESTIMATOR_OPTIONS)
    rows = read_results(out).to_pylist()
    paths = list_images(people_dir)
    assert [r["path"] for r in rows] == paths  # every input, in input order
    assert [r["index"] for r in rows] == list(range(len(paths)))
    # numeric and other names mixed (000042.png, b.jpg): ids by position, unique in the run
    assert [r["image_id"] for r in rows] == list(range(len(paths)))
    broken = str(people_dir / "broken.jpg")
    assert summary.failures == [(broken, rows[paths.index(broken)]["error"])]
    assert "not an image OpenCV can decode" in summary.failures[0][1]
    assert_rows_match(rows, expected)
    assert summary.images == len(paths) and summary.succeeded == len(expected)
    assert summary.persons == sum(len(p) for p in expected.values())


def test_path_list_to_json_lines(batch_model, people_dir, expected, tmp_path):
    paths = list(reversed(list(expected))) + [str(people_dir / "missing.png")]
    out = tmp_path / "poses.jsonl"
    summary = run_batch(paths, out, batch_model, workers=2, batch_size=1, progress=False,
                        **ESTIMATOR_OPTIONS)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["index"] for r in rows) == list(range(len(paths)))
    for row in rows:  # completion order, but each row knows its input position
        assert row["path"] == paths[row["index"]]
    assert summary.failures == [(paths[-1], "no such file")]
    assert_rows_match(rows, expected)


def test_existing_dataset_of_bytes(batch_model, expected):
    items = [{"path": p, "bytes": open(p, "rb").read(), "index": i}
             for i, p in enumerate(expected)]
    dataset = pose_dataset(ray.data.from_items(items), batch_model, workers=2, batch_size=2,
                           **ESTIMATOR_OPTIONS)
    rows = dataset.take_all()
    assert sorted(r["index"] for r in rows) == list(range(len(items)))
    assert all(r["error"] is None for r in rows)
    for row in rows:  # Ray hands nested lists back as arrays of arrays
        row["keypoints"] = np.array([np.stack(person) for person in row["keypoints"]])
    assert_rows_match(rows, expected)


def test_cli_ray_writes_results_and_reports_failures(batch_model, people_dir, tmp_path,
                                                     capsys):
    out = tmp_path / "cli.parquet"
    code = main(["predict", str(people_dir), "--model", str(batch_model), "--ray",
                 "--workers", "2", "--batch-size", "2", "--threads", "1", "--device", "cpu",
                 "--preserve-order", "--no-progress", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "7 image(s)" in err and "1 failed" in err and "broken.jpg" in err
    assert read_results(out).column("path").to_pylist() == list_images(people_dir)


def test_cli_ray_reads_a_uri_prefix(batch_model, people_dir, tmp_path, capsys):
    """A URI stays a URI (``Path`` would fold ``file:///x`` into ``file:/x``): listed and read
    with pyarrow.fs, one row per image, as for the folder itself."""
    out = tmp_path / "uri.jsonl"
    code = main(["predict", "file://" + str(people_dir), "--model", str(batch_model), "--ray",
                 "--workers", "2", "--batch-size", "2", "--threads", "1", "--device", "cpu",
                 "--no-progress", "--joint-threshold", "0.3", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "7 image(s)" in err and "1 failed" in err  # broken.jpg, as above
    assert "--joint-threshold has no effect with --ray" in err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["path"] for r in rows) == ["file://" + p for p in list_images(people_dir)]


def test_cli_ray_passes_the_input_size_to_the_workers(batch_model, people_dir, tmp_path):
    """``--ray --input-size 192`` (the tiny model's own is 128): each row holds the poses of a
    single-process ``Estimator(input_size=192)``."""
    from swahr_infer import Estimator

    out = tmp_path / "sized.jsonl"
    main(["predict", str(people_dir), "--model", str(batch_model), "--ray", "--workers", "2",
          "--batch-size", "2", "--threads", "1", "--device", "cpu", "--input-size", "192",
          "--no-progress", "--out", str(out)])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    with Estimator(batch_model, input_size=192, **ESTIMATOR_OPTIONS) as estimator:
        sized = {r["path"]: estimator.predict(r["path"]) for r in rows if r["error"] is None}
    assert len(sized) == 6
    assert_rows_match(rows, sized)


def test_unusable_model_fails_on_the_driver_not_in_the_actors(people_dir, tmp_path, capsys):
    from swahr_infer.errors import ModelError

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf")
    with pytest.raises(ModelError, match="cannot load"):
        run_batch(people_dir, tmp_path / "r.parquet", bad, workers=2, progress=False)
    assert main(["predict", str(people_dir), "--model", str(tmp_path / "none.onnx"), "--ray",
                 "--out", str(tmp_path / "r.jsonl")]) == 1
    assert "no such model file" in capsys.readouterr().err
    assert not list(tmp_path.glob("r.*"))
