"""``run_batch`` / ``pose_dataset`` from Python check the inputs, the pool options and the results
path before Ray starts: each case fails at once with a typed error and leaves Ray uninitialised
(a local ``ray.init`` takes seconds, and the results path was checked only after the job)."""

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install \"swahr-infer[ray]\")")
pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install \"ray[data]\")")

from swahr_infer.batch import pose_dataset, run_batch  # noqa: E402
from swahr_infer.errors import ImageError, ModelError, OptionError  # noqa: E402


@pytest.fixture(autouse=True)
def ray_not_started():
    if ray.is_initialized():  # e.g. after test_ray_pool.py in the same process
        pytest.skip("Ray is already running in this process: cannot tell whether a check "
                    "started it")
    yield
    started = ray.is_initialized()
    if started:
        ray.shutdown()
    assert not started, "Ray was started before the check failed"


@pytest.mark.parametrize("source, message", [
    ([], "the list of images is empty"),
    ("no/such/folder", "no/such/folder: no such file or folder"),
])
def test_no_inputs_fail_before_ray(tmp_path, source, message):
    with pytest.raises(ImageError, match=message):
        run_batch(source, tmp_path / "r.jsonl", progress=False)
    assert not (tmp_path / "r.jsonl").exists()


def test_an_empty_folder_fails_before_ray(tmp_path):
    (tmp_path / "frames").mkdir()
    with pytest.raises(ImageError, match="no image files found"):
        run_batch(tmp_path / "frames", tmp_path / "r.parquet", progress=False)


@pytest.mark.parametrize("options, message", [
    ({"workers": -1}, "workers must be an integer of at least 1, not -1"),
    ({"workers": 0}, r"workers must be an integer of at least 1, not 0 \(None: one per GPU"),
    ({"workers": 1.5}, "workers must be an integer"),
    ({"batch_size": 0}, "batch_size must be an integer of at least 1, not 0"),
    ({"gpus_per_worker": -1}, "gpus_per_worker must be 0 or more"),
    ({"gpus_per_worker": float("nan")}, "gpus_per_worker must be 0 or more"),
    ({"cpus_per_worker": 0}, "cpus_per_worker must be more than 0"),
])
def test_bad_pool_options_fail_before_ray(people_dir, tmp_path, options, message):
    with pytest.raises(OptionError, match=message):
        run_batch(people_dir, tmp_path / "r.jsonl", progress=False, **options)
    with pytest.raises(OptionError, match=message):
        pose_dataset(people_dir, **options)


def test_a_results_path_that_is_a_folder_fails_before_ray(people_dir, tmp_path):
    folder = tmp_path / "rdir.jsonl"
    folder.mkdir()
    with pytest.raises(OptionError, match="rdir.jsonl: is a folder; name the results file"):
        run_batch(people_dir, folder, progress=False)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OptionError, match="is a file, so the folder .* cannot be created"):
        run_batch(people_dir, blocker / "sub" / "r.parquet", progress=False)
    with pytest.raises(OptionError, match=".parquet or .jsonl"):
        run_batch(people_dir, tmp_path / "r.csv", progress=False)


def test_a_missing_model_fails_before_ray(people_dir, tmp_path):
    with pytest.raises(ModelError, match="no such model file"):
        run_batch(people_dir, tmp_path / "r.jsonl", tmp_path / "none.onnx", progress=False)
    with pytest.raises(ModelError, match="no such model file"):
        pose_dataset(people_dir, tmp_path / "none.onnx")
