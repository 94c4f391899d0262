"""Backend selection and the ONNX Runtime backend on real sessions of tiny models."""

import numpy as np
import pytest

from swahr_infer.backends import SUFFIXES, Backend, backend_for, load_backend
from swahr_infer.backends.onnxruntime import OnnxRuntimeBackend, default_providers
from swahr_infer.errors import MissingDependencyError, ModelError

from .tiny_model import build_tiny_model, make_info


def test_suffix_map():
    assert backend_for("m.onnx") == "onnxruntime"
    assert backend_for("M.ONNX") == "onnxruntime"
    assert backend_for("m.engine") == "tensorrt" and backend_for("m.plan") == "tensorrt"
    assert backend_for("m.pth") == "torch" and backend_for("m.pt") == "torch"
    assert set(SUFFIXES) >= {".onnx", ".engine", ".plan", ".pth", ".pt"}
    with pytest.raises(ModelError, match="unknown model type"):
        backend_for("m.tflite")


def test_unknown_backend_name(tiny_model):
    with pytest.raises(ValueError, match="unknown backend"):
        load_backend(tiny_model, backend="tflite")


def test_tensorrt_without_tensorrt_says_how_to_get_it(tmp_path):
    try:  # (a bare find_spec would also find the tests/tensorrt folder)
        import tensorrt

        if hasattr(tensorrt, "Builder"):
            pytest.skip("tensorrt is installed here")
    except ImportError:
        pass
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"not an engine")
    with pytest.raises(MissingDependencyError, match="pip install tensorrt"):
        load_backend(engine)


def test_onnxruntime_backend_runs_and_reads_metadata(tiny_model):
    with load_backend(tiny_model, intra_op_num_threads=1) as net:
        assert isinstance(net, OnnxRuntimeBackend) and isinstance(net, Backend)
        assert net.info == make_info()
        assert net.input_name == "image"
        assert net.output_names == ("heatmaps", "tags")
        assert net.input_shape == (None, 3, None, None)
        assert net.providers == ("CPUExecutionProvider",)
        out = net.run(np.zeros((2, 3, 64, 96), np.float32))
        assert set(out) == {"heatmaps", "tags"}
        for value in out.values():
            assert value.shape == (2, 17, 32, 48) and value.dtype == np.float32


def test_scales_output_is_returned_when_declared(tiny_model_scales):
    net = load_backend(tiny_model_scales, graph_optimization_level="basic")
    assert net.output_names == ("heatmaps", "tags", "scales")
    out = net.run(np.zeros((1, 3, 32, 32), np.float32))
    assert out["scales"].shape == (1, 17, 16, 16)


def test_cpu_is_the_default_without_cuda():
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert default_providers("auto")[0] == "CUDAExecutionProvider"
    else:
        assert default_providers("auto") == ["CPUExecutionProvider"]
        with pytest.raises(MissingDependencyError, match="onnxruntime-gpu"):
            default_providers("cuda")
    assert default_providers("cpu") == ["CPUExecutionProvider"]
    with pytest.raises(ValueError):
        default_providers("tpu")


def test_missing_metadata_is_a_model_error(tmp_path):
    path = build_tiny_model(tmp_path / "bare.onnx", with_metadata=False)
    with pytest.raises(ModelError, match="no swahr-infer metadata"):
        load_backend(path)


def test_contract_violations_are_model_errors(tmp_path):
    renamed = build_tiny_model(tmp_path / "renamed.onnx",
                               output_names=("heatmap", "tags", "scales"))
    with pytest.raises(ModelError, match=r"missing output\(s\) \['heatmaps'\]"):
        load_backend(renamed)
    wrong_input = build_tiny_model(tmp_path / "input.onnx", input_name="input")
    with pytest.raises(ModelError, match="input is called 'input'"):
        load_backend(wrong_input)
    # metadata promises a scales output the graph lacks
    liar = build_tiny_model(tmp_path / "liar.onnx", make_info(has_scale_output=True),
                            output_names=("heatmaps", "tags", "scale_map"))
    with pytest.raises(ModelError, match="scales"):
        load_backend(liar)


def test_unreadable_model_files(tmp_path):
    with pytest.raises(ModelError, match="no such model file"):
        load_backend(tmp_path / "absent.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00garbage")
    with pytest.raises(ModelError, match="cannot load"):
        load_backend(junk)


def test_static_shapes(tmp_path):
    path = build_tiny_model(tmp_path / "static.onnx", static_shape=(1, 3, 64, 64))
    net = load_backend(path)
    assert net.input_shape == (1, 3, 64, 64)
    # a batch of two runs as two batches of one
    batch = np.random.default_rng(0).normal(size=(2, 3, 64, 64)).astype(np.float32)
    both = net.run(batch)
    first = net.run(batch[:1])
    assert both["heatmaps"].shape == (2, 17, 32, 32)
    np.testing.assert_array_equal(both["heatmaps"][:1], first["heatmaps"])
    net.check_input_size(64, 64)
    with pytest.raises(ModelError, match="fixed input of 64x64"):
        net.check_input_size(96, 64)
    with pytest.raises(ModelError, match="multiple of 32"):
        net.check_input_size(80, 64)


def test_closed_backend_says_so(tiny_model):
    net = load_backend(tiny_model)
    net.close()
    net.close()  # idempotent
    with pytest.raises(ModelError, match="closed"):
        net.run(np.zeros((1, 3, 32, 32), np.float32))
