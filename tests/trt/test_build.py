"""Engine sidecar checks (pure Python) and a real TensorRT build where tensorrt exists."""

import json

import numpy as np
import pytest

from swahr_infer.errors import ModelError
from swahr_infer.trt_build import check_compatible, read_sidecar

GPU = {"gpu": "NVIDIA H100", "compute_capability": "9.0"}


def test_missing_sidecar_is_a_clear_error(tmp_path):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"plan")
    with pytest.raises(ModelError, match="no metadata sidecar m.engine.json"):
        read_sidecar(str(engine))


def test_corrupt_sidecar(tmp_path):
    engine = tmp_path / "m.engine"
    (tmp_path / "m.engine.json").write_text("{not json")
    with pytest.raises(ModelError, match="not a readable"):
        read_sidecar(str(engine))


def test_version_and_gpu_mismatch_are_reported(tmp_path):
    side = {"tensorrt_version": "10.3.0", **GPU}
    check_compatible(side, "10.3.0", GPU, "m.engine")  # same: no error
    with pytest.raises(ModelError, match="built with TensorRT 10.3.0 but TensorRT 11.0.0"):
        check_compatible(side, "11.0.0", GPU, "m.engine")
    with pytest.raises(ModelError, match="built for NVIDIA H100"):
        check_compatible(side, "10.3.0", {"gpu": "Orin", "compute_capability": "8.7"}, "m.engine")


def test_a_plan_of_another_patch_release_is_refused_and_a_bad_sidecar_version_too():
    """Plans load only in their own major.minor.patch ("expecting library version 8.5.1 got
    8.5.3, please rebuild"); the build number after that does not matter."""
    side = {"tensorrt_version": "8.5.1.7", **GPU}
    check_compatible(side, "8.5.1.9", GPU, "m.engine")
    with pytest.raises(ModelError, match="built with TensorRT 8.5.1.7 but TensorRT 8.5.3.1"):
        check_compatible(side, "8.5.3.1", GPU, "m.engine")
    for version in (None, "?", 10):
        with pytest.raises(ModelError, match="m.engine.json names no TensorRT version"):
            check_compatible({"tensorrt_version": version, **GPU}, "10.3.0", GPU, "m.engine")


def test_sidecar_round_trip(tmp_path):
    engine = tmp_path / "m.engine"
    (tmp_path / "m.engine.json").write_text(json.dumps({"tensorrt_version": "8.6.1", **GPU}))
    assert read_sidecar(str(engine))["tensorrt_version"] == "8.6.1"


@pytest.mark.tensorrt
@pytest.mark.gpu
def test_build_engine_from_exported_model(tmp_path):
    from swahr_infer.trt_build import build_engine
    from tests.runtime.tiny_model import build_tiny_model

    import cupy
    import tensorrt

    from swahr_infer.backends.tensorrt import TensorRTBackend
    from swahr_infer.metadata import ModelInfo, read_onnx_props
    from swahr_infer.trt_compat import default_profile

    onnx_path = build_tiny_model(tmp_path / "tiny.onnx")
    out = tmp_path / "tiny.engine"
    sidecar = build_engine(str(onnx_path), str(out))
    assert out.stat().st_size > 0
    assert read_sidecar(str(out)) == json.loads(json.dumps(sidecar))
    # what the sidecar says is what was used: this TensorRT, this GPU, the model's profile
    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    assert sidecar["tensorrt_version"] == tensorrt.__version__
    assert sidecar["compute_capability"] == f"{props['major']}.{props['minor']}"
    info = ModelInfo.from_props(read_onnx_props(str(onnx_path)))
    mn, opt, mx = default_profile(info.input_size, info.size_divisor)
    assert sidecar["profile"] == {"min": list(mn), "opt": list(opt), "max": list(mx)}
    # and the engine runs: the model's outputs at its opt shape
    outputs = TensorRTBackend(str(out)).run(np.zeros(opt, np.float32))
    assert outputs["heatmaps"].shape[:2] == (opt[0], info.num_joints)


@pytest.mark.tensorrt
@pytest.mark.gpu
def test_a_static_model_builds_without_a_profile_and_a_bad_timing_cache_is_replaced(tmp_path):
    from swahr_infer.trt_build import BuildOptions, build_engine
    from tests.runtime.tiny_model import build_tiny_model

    onnx_path = build_tiny_model(tmp_path / "static.onnx", static_shape=(2, 3, 128, 192))
    cache = tmp_path / "timing.cache"
    cache.write_bytes(b"not a timing cache")
    out = tmp_path / "static.engine"
    sidecar = build_engine(str(onnx_path), str(out), BuildOptions(timing_cache=str(cache)))
    assert sidecar["profile"] == {"min": [2, 3, 128, 192], "opt": [2, 3, 128, 192],
                                  "max": [2, 3, 128, 192]}
    assert out.stat().st_size > 0 and cache.read_bytes() != b"not a timing cache"
