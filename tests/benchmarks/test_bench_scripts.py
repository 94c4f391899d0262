"""The scripts in benchmarks/: side-by-side runs, table rows, charts (tiny real models)."""

import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of scripts, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import compare, latency  # noqa: E402
from swahr_infer.benchmark import STAGES, synthetic_image_file  # noqa: E402
from tests.official_code import REPO as OFFICIAL_REPO, requires_official  # noqa: E402


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    spec = importlib.util.spec_from_file_location(
        "_bench_scripts_tiny_model", ROOT / "tests" / "runtime" / "tiny_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_tiny_model(tmp_path_factory.mktemp("m") / "tiny.onnx")


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return str(synthetic_image_file(160, 120, tmp_path_factory.mktemp("img")))


def test_run_pair_threads_agree_exactly(tiny_onnx, image):
    a = compare.ours("1 thread", tiny_onnx, threads=1)
    b = compare.ours("2 threads", tiny_onnx, threads=2)
    try:
        row = compare.run_pair("threads", a, b, image, runs=2, warmup=1)
    finally:
        a.close()
        b.close()
    assert set(STAGES) <= set(row["a_ms"]) and row["a_ms"]["total"]["n"] == 2
    assert row["speedup"] == pytest.approx(
        row["a_ms"]["total"]["median_ms"] / row["b_ms"]["total"]["median_ms"], rel=1e-2)
    assert row["ratio_b_over_a"]["total"] == pytest.approx(1 / row["speedup"], rel=1e-2)
    # the same model on the same image: same maps up to thread-order rounding, same poses
    assert row["maps"]["heatmaps_max_abs"] < 1e-5 and row["maps"]["tags_max_abs"] < 1e-5
    n = row["agreement"]["people"][0]
    assert n > 0 and row["agreement"]["matched"] == n
    json.dumps(row)  # JSON-ready


def test_run_pair_flip_reports_no_map_difference(tiny_onnx, image):
    a = compare.ours("flip on", tiny_onnx)
    b = compare.ours("flip off", tiny_onnx, flip=False)
    row = compare.run_pair("flip", a, b, image, runs=1, warmup=0)
    assert "maps" not in row  # flip changes the maps by design
    assert row["a_settings"]["flip"] is True and row["b_settings"]["flip"] is False


def test_skip_reasons():
    args = SimpleNamespace(official_repo=None)
    assert "official-repo" in compare.skip_reason("official", args)
    assert compare.skip_reason("flip", args) is None
    import onnxruntime

    has_cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    assert (compare.skip_reason("cuda", args) is None) == has_cuda


def test_latency_row_from_bench_json(tiny_onnx, image):
    args = SimpleNamespace(runs=1, warmup=0, threads=1, device="cpu", scales=[1.0],
                           no_flip=False)
    result = latency.bench_row(tiny_onnx, Path(image), args)  # a child `swahr-infer bench`
    row = latency.table_row(result)
    assert row["image"] == "160x120" and row["input"] == "2x3x128x192"
    assert row["total"] == result["stages"]["total"]["median_ms"]
    assert row["img/s"] == result["images_per_s"] and row["rss"] > 0


def test_plots_write_png(tmp_path):
    pytest.importorskip("matplotlib")
    from benchmarks import plot

    stages = {s: {"median_ms": float(i + 1)} for i, s in enumerate(STAGES)}
    config = {"arch": "w8-tiny", "precision": "fp32", "image_size": [640, 480], "flip": True}
    latency_png = plot.plot_latency({"rows": [{"config": config, "stages": stages}] * 2},
                                    tmp_path / "l.png")
    compare_png = plot.plot_compare(
        {"rows": [{"pair": "flip", "a": "on", "b": "off", "a_ms": stages, "b_ms": stages},
                  {"pair": "cuda", "skipped": "no CUDA"}]}, tmp_path / "c.png")
    for path in (latency_png, compare_png):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
@requires_official
def test_official_pipeline_gives_our_maps(tmp_path, image):
    """The official model class with our W32 weights and its test loop give the fused maps
    our exported model and fusion give (one W32 run each: about a minute on 2 cores)."""
    pytest.importorskip("torch")
    pytest.importorskip("yacs")
    pytest.importorskip("munkres")
    from benchmarks.official import OfficialPipeline
    from swahr_infer.benchmark import random_checkpoint, random_model

    cache = ROOT / "benchmarks" / ".cache"
    pipe = OfficialPipeline(OFFICIAL_REPO, random_checkpoint("w32", cache),
                            "w32", threads=2)
    keypoints, scores = pipe.predict(image)
    assert keypoints.shape == (len(scores), 17, 3)
    assert set(STAGES) <= set(pipe.last_timings)
    ours = compare.ours("ours", random_model("w32", cache), threads=2)
    diff = compare.maps_difference(pipe.last_maps, ours.maps(image))
    assert diff["heatmaps_max_abs"] < 1e-4 and diff["tags_max_abs"] < 1e-4


@pytest.mark.slow
@requires_official
def test_official_parity_script_on_a_small_architecture(tmp_path, image):
    """A member of the family the official experiments do not have (w8-tiny: other widths,
    module and block counts, one stem bottleneck) is built by the official model class from
    the configuration benchmarks/official.py derives, loads our checkpoint strictly, and its
    fused maps equal our exported model's; benchmarks/official_parity.py reports both solvers."""
    pytest.importorskip("torch")
    pytest.importorskip("yacs")
    pytest.importorskip("munkres")
    from benchmarks import official_parity
    from benchmarks.official import OfficialPipeline
    from swahr_infer.benchmark import random_checkpoint

    cache = tmp_path / "cache"
    checkpoint = random_checkpoint("w8-tiny", cache)
    pipe = OfficialPipeline(OFFICIAL_REPO, checkpoint, "w8-tiny", threads=2,
                            input_size=128)
    assert len(pipe.model.fn.layer1) == 1 and pipe.cfg.DATASET.INPUT_SIZE == 128
    pipe.predict(image)
    model = compare.trained_model(checkpoint, "w8-tiny", cache, input_size=128)
    diff = compare.maps_difference(pipe.last_maps, compare.ours("ours", model, threads=2).maps(image))
    assert diff["heatmaps_max_abs"] < 1e-5 and diff["tags_max_abs"] < 1e-5

    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(Path(image).read_bytes())
    (folder / "b.jpg").write_bytes(b"not a JPEG")  # reported and skipped
    out = tmp_path / "parity.json"
    assert official_parity.main([
        "--official-repo", OFFICIAL_REPO, "--checkpoint", str(checkpoint),
        "--arch", "w8-tiny", "--input-size", "128", "--images", str(folder), "--cache-dir",
        str(cache), "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    rows = payload["rows"]
    assert [f["file"].endswith("b.jpg") for f in payload["meta"]["failures"]] == [True]
    assert [r["solver"] for r in rows] == ["scipy", "munkres"]
    for r in rows:
        assert r["images"] == 1
        assert r["within_0.05px"] <= r["within_1px"] <= min(r["people"], r["official_people"])


def test_compare_with_a_trained_checkpoint_exports_it_once(tmp_path, image):
    """``compare.py --checkpoint``: both sides of a pair run that checkpoint's ONNX export (at
    the given input size), exported into the cache once and reused."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxslim")
    from swahr_infer.benchmark import random_checkpoint

    checkpoint = random_checkpoint("w8-tiny", tmp_path / "ckpt", seed=3)
    cache, out = tmp_path / "cache", tmp_path / "cmp.json"
    argv = ["--pairs", "flip", "--arch", "w8-tiny", "--checkpoint", str(checkpoint),
            "--input-size", "128", "--image", image, "--runs", "1", "--warmup", "0",
            "--threads", "1", "--cache-dir", str(cache), "--json", str(out), "--no-plot"]
    assert compare.main(argv) == 0
    payload = json.loads(out.read_text())
    row = payload["rows"][0]
    assert payload["meta"]["checkpoint"] == str(checkpoint) and payload["meta"]["input_size"] == 128
    assert row["a_settings"]["model"].startswith("trained_w8-tiny_")
    exported = sorted(cache.glob("trained_*.onnx"))
    assert len(exported) == 1
    from swahr_infer import Estimator

    assert Estimator(exported[0]).input_size == 128
    stamp = exported[0].stat().st_mtime_ns
    assert compare.main(argv) == 0 and exported[0].stat().st_mtime_ns == stamp  # reused


def test_official_parity_on_cuda_without_a_gpu_is_one_line(tmp_path, image):
    """--device cuda where torch sees no GPU ends with one line, before anything is loaded
    (the official repository named need not even exist)."""
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    from benchmarks import official_parity

    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(Path(image).read_bytes())
    with pytest.raises(SystemExit, match="--device cuda: torch .* sees no CUDA GPU here"):
        official_parity.main(["--official-repo", str(tmp_path / "nowhere"), "--checkpoint",
                              str(tmp_path / "none.pth"), "--arch", "w8-tiny", "--images",
                              str(folder), "--device", "cuda", "--json", str(tmp_path / "o.json")])
    assert not (tmp_path / "o.json").exists()
