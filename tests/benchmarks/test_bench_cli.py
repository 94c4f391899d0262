"""`swahr-infer bench` end to end on a tiny real ONNX model (speed is reported, never tested)."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from swahr_infer.benchmark import STAGES
from swahr_infer.cli import main

HERE = Path(__file__).resolve().parent


def _tiny_model_module():
    spec = importlib.util.spec_from_file_location(
        "_bench_tiny_model", HERE.parent / "runtime" / "tiny_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    return _tiny_model_module().build_tiny_model(tmp_path_factory.mktemp("m") / "tiny.onnx")


def _check_stages(result, runs):
    assert set(STAGES) <= set(result["stages"])
    for name in STAGES:
        stage = result["stages"][name]
        assert stage["n"] == runs
        assert 0 <= stage["min_ms"] <= stage["median_ms"] <= stage["p90_ms"] <= stage["max_ms"]
    total = result["stages"]["total"]["median_ms"]
    assert result["images_per_s"] == pytest.approx(1000 / total, rel=1e-3)


def test_bench_writes_json_with_every_stage(tiny_onnx, tmp_path, capsys):
    out = tmp_path / "r" / "bench.json"
    rc = main(["bench", "--model", str(tiny_onnx), "--size", "160x120", "--runs", "2",
               "--warmup", "1", "--threads", "1", "--cache-dir", str(tmp_path / "cache"),
               "--json", str(out)])
    assert rc == 0
    result = json.loads(out.read_text())
    _check_stages(result, runs=2)
    config = result["config"]
    assert config["image_size"] == [160, 120] and config["flip"] is True
    assert config["scales"] == [1.0] and config["threads"] == 1
    assert config["network_inputs"] == ["2x3x128x192"]  # input size 128, flip as batch 2
    assert Path(config["image"]).is_file()                 # the synthetic JPEG, cached
    assert result["memory"]["rss_peak_mb"] > 0 and result["memory"]["traced_peak_mb"] >= 0
    assert result["tool"] == "swahr-infer bench" and result["machine"]["cpu_count"] >= 1
    printed = capsys.readouterr().out
    assert "total" in printed and "images/s" in printed


def test_bench_image_scales_no_flip(tiny_onnx, tmp_path):
    image = tmp_path / "photo.png"
    cv2.imwrite(str(image), cv2.resize(cv2.imread(str(_synthetic(tmp_path))), (90, 140)))
    out = tmp_path / "b.json"
    rc = main(["bench", "--model", str(tiny_onnx), "--image", str(image), "--runs", "1",
               "--warmup", "0", "--scales", "1", "2", "--no-flip", "--no-memory",
               "--json", str(out)])
    assert rc == 0
    result = json.loads(out.read_text())
    _check_stages(result, runs=1)
    assert result["config"]["image_size"] == [90, 140]
    assert result["config"]["scales"] == [2.0, 1.0]
    assert [n.split("x")[0] for n in result["config"]["network_inputs"]] == ["1", "1"]
    assert result["memory"] == {"rss_peak_mb": None, "traced_peak_mb": None}


def _synthetic(folder):
    from swahr_infer.benchmark import synthetic_image_file

    return synthetic_image_file(64, 48, folder)


def test_bench_with_model_runs_without_torch(tiny_onnx, tmp_path):
    out = tmp_path / "b.json"
    code = ("import sys; sys.modules['torch'] = None\n"  # any import of torch now fails
            "from swahr_infer.cli import main\n"
            f"sys.exit(main(['bench', '--model', {str(tiny_onnx)!r}, '--size', '64x48', "
            f"'--runs', '1', '--warmup', '0', '--cache-dir', {str(tmp_path)!r}, "
            f"'--json', {str(out)!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "torch" not in json.loads(out.read_text())["machine"]


def test_bench_refuses_bad_options(tiny_onnx, tmp_path, capsys):
    assert main(["bench", "--model", str(tiny_onnx), "--fp16"]) == 2
    assert "--fp16" in capsys.readouterr().err
    assert main(["bench", "--model", str(tmp_path / "missing.onnx"), "--size", "64x48",
                 "--cache-dir", str(tmp_path)]) == 1
    for bad, message in ((["--runs", "0"], "argument --runs: must be at least 1"),
                         (["--size", "640"], "argument --size: expected WIDTHxHEIGHT such as 1920x1080"),
                         (["--model", "a.onnx", "--arch", "w32"],
                          "argument --arch: not allowed with argument --model")):
        with pytest.raises(SystemExit) as stop:
            main(["bench", *bad])
        assert stop.value.code == 2
        assert message in capsys.readouterr().err


def test_bench_help_lists_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--model", "--arch", "--image", "--runs", "--warmup", "--scales",
                   "--no-flip", "--threads", "--json"):
        assert option in text


@pytest.mark.slow
def test_bench_random_weight_arch_is_exported_once(tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("onnxslim")
    cache = tmp_path / "cache"
    args = ["bench", "--arch", "w8-tiny", "--size", "64x48", "--runs", "1", "--warmup", "0",
            "--no-memory", "--cache-dir", str(cache)]
    assert main(args + ["--json", str(tmp_path / "a.json")]) == 0
    models = sorted(cache.glob("w8-tiny_seed0_fp32_*.onnx"))
    assert len(models) == 1 and (cache / "w8-tiny_seed0.pth").is_file()
    err = capsys.readouterr().err  # the slow first run says what it is doing
    assert f"swahr-infer bench: exporting a random-weight w8-tiny model (fp32) to {models[0]}" in err
    assert "swahr-infer bench: 0 warm-up + 1 timed runs ..." in err
    stamp = models[0].stat().st_mtime_ns
    assert main(args + ["--json", str(tmp_path / "b.json")]) == 0
    assert models[0].stat().st_mtime_ns == stamp  # reused, not exported again
    assert "exporting" not in capsys.readouterr().err
    result = json.loads((tmp_path / "b.json").read_text())
    assert result["config"]["arch"] == "w8-tiny" and result["config"]["random_weights"]
    _check_stages(result, runs=1)
