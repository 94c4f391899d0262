"""trtexec command lines per TensorRT version, and parsing of real trtexec logs."""

from pathlib import Path

import pytest

from swahr_infer.errors import ModelError
from swahr_infer.trt_compat import default_profile, fit_profile, parse_version, precision_plan
from swahr_infer.trtexec import build_command, parse_summary

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("text, expected", [
    ("v8601", (8, 6)), ("v100200", (10, 2)), ("v110100", (11, 1)),
    ("10.12.0.36", (10, 12)), ("8.6.1", (8, 6)), ("11.0.0", (11, 0)),
])
def test_parse_version(text, expected):
    assert parse_version(text) == expected


def test_parse_version_rejects_garbage():
    with pytest.raises(ValueError):
        parse_version("latest")


def test_summary_tensorrt10_log():
    s = parse_summary((DATA / "trtexec_10x_nvidia_issue4177.log").read_text())
    assert s["tensorrt_version"] == "10.2"
    assert s["throughput_qps"] == pytest.approx(130.298)
    gpu = s["metrics"]["gpu_compute_time"]
    assert gpu["median_ms"] == pytest.approx(7.14139)
    assert gpu["p90_ms"] == pytest.approx(10.2881)
    assert gpu["p99_ms"] == pytest.approx(12.9485)
    assert set(s["metrics"]) == {"latency", "enqueue_time", "h2d_latency",
                                 "gpu_compute_time", "d2h_latency"}
    assert s["total_gpu_compute_time_s"] == pytest.approx(2.96536)


def test_summary_tensorrt8_log_has_only_p99():
    s = parse_summary((DATA / "trtexec_8x_yolov7_pr329.log").read_text())
    lat = s["metrics"]["latency"]
    assert lat == pytest.approx({"min_ms": 1.3476, "max_ms": 1.5657, "mean_ms": 1.38629,
                                 "median_ms": 1.38037, "p99_ms": 1.55853})
    assert "tensorrt_version" not in s


def test_summary_missing():
    with pytest.raises(ValueError, match="Performance summary"):
        parse_summary("[I] Building engine...\n&&&& FAILED")


def test_fp16_flag_rules():
    assert precision_plan((8, 6), fp16=True, onnx_precision="fp32").trtexec_flags == ("--fp16",)
    assert precision_plan((10, 8), fp16=True, onnx_precision="fp32").trtexec_flags == ("--fp16",)
    assert precision_plan((10, 8), fp16=True, onnx_precision="fp16").trtexec_flags == (
        "--stronglyTyped",)
    assert precision_plan((11, 0), fp16=True, onnx_precision="fp16").trtexec_flags == ()
    assert precision_plan((10, 8), fp16=False, onnx_precision="fp32").trtexec_flags == ()
    with pytest.raises(ModelError, match="export an FP16 ONNX"):
        precision_plan((11, 0), fp16=True, onnx_precision="fp32")


def test_command_uses_profile_from_input_size():
    argv = build_command("m.onnx", input_size=512, trt_version="10.3", fp16=True)
    assert argv[0] == "trtexec" and "--onnx=m.onnx" in argv
    assert "--minShapes=image:1x3x256x256" in argv
    assert "--optShapes=image:2x3x512x768" in argv
    assert "--maxShapes=image:2x3x1024x1024" in argv
    assert "--fp16" in argv and "--useCudaGraph" in argv
    argv11 = build_command("m.onnx", input_size=640, trt_version="11.0", onnx_precision="fp16")
    assert "--fp16" not in argv11 and "--optShapes=image:2x3x640x960" in argv11


def test_fixed_dimensions_of_an_exported_model_are_kept():
    """export --static 640x960 --batch 2: no shape flags at all (trtexec refuses them for a
    static model); --batch 1 alone: the batch pinned, height and width still ranging."""
    static = build_command("m.onnx", input_size=640, trt_version="10.3",
                           input_shape=(2, 3, 640, 960))
    assert not [a for a in static if "Shapes=" in a or a.startswith("--shapes")]
    batch1 = build_command("m.onnx", input_size=512, trt_version="10.3",
                           input_shape=(1, 3, None, None))
    assert "--minShapes=image:1x3x256x256" in batch1
    assert "--optShapes=image:1x3x512x768" in batch1 and "--maxShapes=image:1x3x1024x1024" in batch1
    assert fit_profile(default_profile(384), (2, 3, 640, 960)) == ((2, 3, 640, 960),) * 3


def test_default_profile_covers_official_single_scale_sizes():
    mn, opt, mx = default_profile(512)
    # 1920x1080 -> 512x960 and its portrait twin fit between min and max
    for h, w in [(512, 960), (960, 512), (512, 512)]:
        assert mn[2] <= h <= mx[2] and mn[3] <= w <= mx[3]
