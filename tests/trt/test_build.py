"""Engine sidecar checks (pure Python) and a real TensorRT build where tensorrt exists."""

import json

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


def test_sidecar_round_trip(tmp_path):
    engine = tmp_path / "m.engine"
    (tmp_path / "m.engine.json").write_text(json.dumps({"tensorrt_version": "8.6.1", **GPU}))
    assert read_sidecar(str(engine))["tensorrt_version"] == "8.6.1"


@pytest.mark.tensorrt
@pytest.mark.gpu
def test_build_engine_from_exported_model(tmp_path):
    from swahr_infer.trt_build import build_engine
    from tests.runtime.tiny_model import build_tiny_model

    onnx_path = build_tiny_model(tmp_path / "tiny.onnx")
    out = tmp_path / "tiny.engine"
    sidecar = build_engine(str(onnx_path), str(out))
    assert out.stat().st_size > 0
    assert read_sidecar(str(out)) == json.loads(json.dumps(sidecar))
