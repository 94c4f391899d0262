"""The pieces of batch inference that need no running Ray: the per-actor worker called
directly, input listing, and the results files."""

import math

import cv2
import numpy as np
import pytest

pa = pytest.importorskip("pyarrow", reason="batch results need pyarrow (pip install "
                                           "\"swahr-infer[ray]\")")

from swahr_infer.batch import (PoseWorker, image_id_for, input_paths, list_images,  # noqa: E402
                               read_image, read_results, result_schema, results_format,
                               write_results)
from swahr_infer.errors import ImageError  # noqa: E402
from swahr_infer.image_io import read_file  # noqa: E402

from .conftest import ESTIMATOR_OPTIONS, assert_rows_match  # noqa: E402


@pytest.fixture(scope="module")
def worker(batch_model):
    return PoseWorker(str(batch_model), ESTIMATOR_OPTIONS)


def test_listing_is_recursive_sorted_and_images_only(people_dir, tmp_path):
    paths = list_images(people_dir)
    names = [p[len(str(people_dir)) + 1:] for p in paths]
    assert names == ["000042.png", "b.jpg", "broken.jpg", "c.png", "d.png", "sub/e.png",
                     "sub/f.jpg"]
    assert input_paths(people_dir) == paths
    assert input_paths([people_dir / "b.jpg", "relative.png"])[1].startswith("/")
    (tmp_path / "empty").mkdir()
    for source, message in ((tmp_path / "empty", "no image files"),
                            (tmp_path / "missing", "no such file or folder"), ([], "empty")):
        with pytest.raises(ImageError, match=message):
            input_paths(source)


def test_file_uris_are_listed_and_read_like_paths(people_dir):
    uris = input_paths(people_dir.as_uri())
    assert uris == ["file://" + p for p in list_images(people_dir)]
    np.testing.assert_array_equal(read_image(uris[1]), read_file(people_dir / "b.jpg"))
    with pytest.raises(ImageError, match="cannot be read"):
        read_image((people_dir / "gone.png").as_uri())


def test_worker_rows_follow_the_batch_and_keep_failures(worker, people_dir, expected):
    paths = list(reversed(list_images(people_dir))) + [str(people_dir / "missing.png")]
    batch = {"index": np.arange(len(paths)) + 100, "path": np.array(paths, dtype=object)}
    table = worker(batch)
    assert table.schema == result_schema()
    rows = table.to_pylist()
    assert [r["path"] for r in rows] == paths
    assert [r["index"] for r in rows] == list(range(100, 100 + len(paths)))
    errors = {r["path"].rsplit("/", 1)[-1]: r["error"] for r in rows if r["error"]}
    assert set(errors) == {"broken.jpg", "missing.png"}
    assert "not an image OpenCV can decode" in errors["broken.jpg"]
    assert errors["missing.png"] == "no such file"  # the path is in its own column
    for row in rows:
        if row["error"]:
            assert row["num_persons"] == 0 and row["keypoints"] is None
    assert_rows_match(rows, expected)
    ids = {r["path"].rsplit("/", 1)[-1]: r["image_id"] for r in rows}
    assert ids["000042.png"] == 42 and ids["b.jpg"] == batch["index"][paths.index(
        str(people_dir / "b.jpg"))]


def test_bytes_and_image_columns_give_the_same_poses(worker, batch_model, people_dir, expected):
    paths = list(expected)
    encoded = np.empty(len(paths), dtype=object)
    encoded[:] = [np.fromfile(p, np.uint8).tobytes() for p in paths]
    rows = worker({"path": np.array(paths, dtype=object), "bytes": encoded,
                   "image_id": np.arange(len(paths)) + 7}).to_pylist()
    assert [r["image_id"] for r in rows] == list(range(7, 7 + len(paths)))
    assert [r["index"] for r in rows] == [-1] * len(paths)
    assert_rows_match(rows, expected)
    # decoded arrays: RGB by default (what Ray's readers give), BGR with rgb=False
    bgr, rgb = (np.empty(len(paths), dtype=object) for _ in range(2))
    bgr[:] = [read_file(p) for p in paths]
    rgb[:] = [np.ascontiguousarray(image[:, :, ::-1]) for image in bgr]
    names = np.array(paths, dtype=object)
    assert_rows_match(worker({"path": names, "image": rgb}).to_pylist(), expected)
    bgr_worker = PoseWorker(str(batch_model), ESTIMATOR_OPTIONS, rgb=False)
    assert_rows_match(bgr_worker({"path": names, "image": bgr}).to_pylist(), expected)
    with pytest.raises(ValueError, match="'path', 'bytes' or 'image'"):
        worker({"index": np.arange(2)})


def test_results_files_round_trip_exactly(tmp_path, people_dir):
    from runtime.tiny_model import build_tiny_model, make_info

    model = build_tiny_model(tmp_path / "scales.onnx", make_info(has_scale_output=True))
    worker = PoseWorker(str(model), ESTIMATOR_OPTIONS)
    paths = list_images(people_dir)[:3]  # two images and the broken one
    rows = worker({"index": np.arange(3), "path": np.array(paths, dtype=object)}).to_pylist()
    assert rows[0]["keypoint_scales"] and rows[2]["error"]
    # a joint never found has a NaN scale; JSON has no NaN, the file must still round-trip it
    rows[0]["keypoint_scales"][0][3] = math.nan
    table = pa.Table.from_pylist(rows, schema=result_schema())
    for name in ("r.parquet", "r.jsonl"):
        out = write_results([table.slice(0, 2), table.slice(2)], tmp_path / name)
        assert not list(tmp_path.glob(f".{name}.*"))  # no temporary file left beside it
        back = read_results(out)
        assert back.equals(table) or _equal_with_nan(back, table), name


def _equal_with_nan(a, b):
    """Tables equal, NaN == NaN (pyarrow's equals treats NaN as unequal)."""
    if a.schema != b.schema or a.num_rows != b.num_rows:
        return False
    for x, y in zip(a.to_pylist(), b.to_pylist()):
        for key in x:
            if key == "keypoint_scales" and x[key] is not None:
                if not np.array_equal(np.array(x[key], np.float32), np.array(y[key], np.float32),
                                      equal_nan=True):
                    return False
            elif x[key] != y[key]:
                return False
    return True


def test_results_file_is_written_whole_or_not_at_all(tmp_path):
    def broken():
        yield result_schema().empty_table()
        raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError, match="worker lost"):
        write_results(broken(), tmp_path / "r.parquet")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, fmt", [("a.parquet", "parquet"), ("a.PQ", "parquet"),
                                       ("a.jsonl", "jsonl"), ("a.json", "jsonl")])
def test_results_format_from_suffix(name, fmt):
    assert results_format(name) == fmt


def test_unknown_results_suffix_is_refused():
    with pytest.raises(ValueError, match=".parquet or .jsonl"):
        results_format("results.csv")


def test_image_id_rule():
    assert image_id_for("/x/000123.jpg", 5) == 123
    assert image_id_for("/x/a.jpg", 5) == 5
    assert image_id_for(None, -1) == -1
