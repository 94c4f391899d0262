"""ONNX export: ORT-vs-PyTorch parity, graph hygiene (checker, TensorRT ops, BN folded),
metadata, static shapes, FP16, and the never-half-written guarantee."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxslim")

import torch.nn.functional as F  # noqa: E402

from export.model import ArchConfig, build_model  # noqa: E402
from export.onnx_export import export_onnx, op_counts  # noqa: E402
from export.tensorrt_ops import SUPPORTED_OPS, tensorrt_problems  # noqa: E402
from swahr_infer import __version__  # noqa: E402
from swahr_infer.errors import ModelError  # noqa: E402
from swahr_infer.metadata import ModelInfo, read_onnx_props  # noqa: E402


def official_outputs(model, image, with_scales=False):
    """The contract computed the way the official test code does it: drop the scale channels,
    resize stage 0 (heatmaps and tags together) to stage 1's size, mean of the heatmaps."""
    k = model.cfg.num_joints
    s = k if model.cfg.scale_heads else 0
    with torch.no_grad():
        stage0, stage1 = model(torch.from_numpy(image))
        maps0 = F.interpolate(stage0[:, s:], size=stage1.shape[2:], mode="bilinear",
                              align_corners=False)
        result = {"heatmaps": (maps0[:, :k] + stage1[:, s:s + k]) / 2, "tags": maps0[:, k:]}
        if with_scales:
            result["scales"] = stage1[:, :k]
    return {name: t.numpy() for name, t in result.items()}


def session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run(sess, image):
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {"image": image})))


def images(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def assert_matches_official(model, path, shape, seed=0, with_scales=False):
    """ORT on the exported file vs :func:`official_outputs` in PyTorch: max abs diff <= 1e-4."""
    image = images(shape, seed)
    expected = official_outputs(model, image, with_scales=with_scales)
    got = run(session(path), image)
    assert set(got) == set(expected)
    for name, want in expected.items():
        assert got[name].shape == (shape[0], model.cfg.num_joints, shape[2] // 2, shape[3] // 2)
        assert got[name].dtype == np.float32
        np.testing.assert_allclose(got[name], want, rtol=0, atol=1e-4, err_msg=name)


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory, tiny_model):
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    info = export_onnx(tiny_model, path, with_scales=True)
    return path, info


@pytest.mark.parametrize("shape", [(1, 3, 128, 128), (2, 3, 192, 256), (1, 3, 256, 160)])
def test_parity_fp32(tiny_onnx, tiny_model, shape):
    assert_matches_official(tiny_model, tiny_onnx[0], shape, with_scales=True)


def test_checker_and_tensorrt_ops(tiny_onnx):
    model = onnx.load(str(tiny_onnx[0]))
    onnx.checker.check_model(model, full_check=True)
    counts = op_counts(model)
    assert set(counts) <= set(SUPPORTED_OPS), set(counts) - set(SUPPORTED_OPS)
    assert tensorrt_problems(model) == []
    assert model.opset_import[0].version == 17


def test_batchnorm_folded_and_graph_simplified(tiny_onnx):
    counts = op_counts(onnx.load(str(tiny_onnx[0])))
    assert counts.get("BatchNormalization", 0) == 0
    assert counts.get("Identity", 0) == 0 and counts.get("Constant", 0) == 0
    assert counts["Conv"] == sum(isinstance(m, torch.nn.Conv2d)
                                 for m in build_model("w8-tiny").modules())


def test_dynamic_axes(tiny_onnx):
    model = onnx.load(str(tiny_onnx[0]))
    dims = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in list(model.graph.input) + list(model.graph.output)}
    assert dims["image"] == ["batch", 3, "height", "width"]
    assert dims["heatmaps"] == ["batch", 17, "half_height", "half_width"]


def test_metadata(tiny_onnx):
    path, returned = tiny_onnx
    info = ModelInfo.from_props(read_onnx_props(str(path)))
    assert info == returned
    assert info.arch == "w8-tiny" and info.width == 8 and info.num_joints == 17
    assert info.precision == "fp32" and info.has_scale_output and info.has_scale_heads
    assert info.exporter_version == __version__


def test_static_shape_and_no_scales(tmp_path, tiny_model):
    path = tmp_path / "static.onnx"
    info = export_onnx(tiny_model, path, static_size=(128, 192), batch=2)
    assert not info.has_scale_output
    model = onnx.load(str(path))
    dims = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in list(model.graph.input) + list(model.graph.output)}
    assert dims == {"image": [2, 3, 128, 192], "heatmaps": [2, 17, 64, 96],
                    "tags": [2, 17, 64, 96]}
    assert_matches_official(tiny_model, path, (2, 3, 128, 192), seed=1)


def test_plain_higherhrnet(tmp_path, randomise):
    cfg = ArchConfig("plain", 8, num_joints=14, dataset="crowdpose", stage_modules=(1, 1, 1),
                     stage_blocks=(1, 1, 1), stem_blocks=1, deconv_blocks=1, scale_heads=False)
    model = randomise(build_model(cfg))
    with pytest.raises(ModelError, match="no scale heads"):
        export_onnx(model, tmp_path / "x.onnx", with_scales=True)
    assert not list(tmp_path.iterdir())
    path = tmp_path / "plain.onnx"
    info = export_onnx(model, path)
    assert not info.has_scale_heads and info.dataset == "crowdpose"
    assert_matches_official(model, path, (1, 3, 128, 192), seed=2)


@pytest.mark.slow
def test_w16_small_parity(tmp_path, randomise):
    torch.manual_seed(1)
    model = randomise(build_model("w16-small"), seed=1)
    path = tmp_path / "small.onnx"
    export_onnx(model, path)
    assert_matches_official(model, path, (1, 3, 256, 192), seed=3)


def test_fp16(tmp_path, tiny_model, tiny_onnx, record_property):
    path = tmp_path / "tiny_fp16.onnx"
    info = export_onnx(tiny_model, path, fp16=True, with_scales=True)
    assert info.precision == "fp16"
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert tensorrt_problems(model) == []
    float_types = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16}
    io_types = {v.name: v.type.tensor_type.elem_type
                for v in list(model.graph.input) + list(model.graph.output)}
    assert set(io_types.values()) == {onnx.TensorProto.FLOAT}
    weights = [w for w in model.graph.initializer if w.data_type in float_types and w.dims]
    conv_weights = {n.input[1] for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")}
    assert all(w.data_type == onnx.TensorProto.FLOAT16 for w in weights if w.name in conv_weights)
    assert op_counts(model)["Cast"] == 3  # image in; stage 0 and stage 1 out of the network
    image = images((1, 3, 192, 256), seed=4)
    fp32 = run(session(tiny_onnx[0]), image)
    fp16 = run(session(path), image)
    for name in ("heatmaps", "tags", "scales"):
        assert fp16[name].dtype == np.float32
        diff = float(np.abs(fp16[name] - fp32[name]).max())
        scale = float(np.abs(fp32[name]).max())
        print(f"fp16 vs fp32 {name}: max abs diff {diff:.2e} (max |value| {scale:.2f})")
        record_property(f"fp16_max_abs_diff_{name}", diff)
        assert diff < 0.02 * max(scale, 1.0)


def test_failed_export_leaves_nothing(tmp_path, tiny_model, monkeypatch):
    import export.onnx_export as exporter

    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous model")

    def broken(model):
        raise ModelError("simulated checker failure")

    monkeypatch.setattr(exporter, "_check", broken)
    with pytest.raises(ModelError, match="simulated"):
        export_onnx(tiny_model, target)
    assert target.read_bytes() == b"previous model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_unwritable_destination(tmp_path, tiny_model):
    blocker = tmp_path / "a_file"  # a folder cannot be made where a file is
    blocker.write_text("x")
    with pytest.raises(ModelError, match="cannot write the model"):
        export_onnx(tiny_model, blocker / "model.onnx")
    with pytest.raises(ModelError, match="it is a directory"):
        export_onnx(tiny_model, tmp_path)


@pytest.mark.parametrize("options, match", [
    ({"static_size": (250, 320)}, "multiples of 32"),
    ({"batch": 0}, "batch must be at least 1"),
    ({"opset": 13}, "opset 13 is too old"),
])
def test_bad_options(tmp_path, tiny_model, options, match):
    with pytest.raises(ModelError, match=match):
        export_onnx(tiny_model, tmp_path / "m.onnx", **options)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_w32_512x768_parity(tmp_path, randomise):
    torch.manual_seed(2)
    model = randomise(build_model("w32"), seed=2)
    path = tmp_path / "w32.onnx"
    export_onnx(model, path)
    model_proto = onnx.load(str(path))
    assert op_counts(model_proto).get("BatchNormalization", 0) == 0
    assert tensorrt_problems(model_proto) == []
    assert_matches_official(model, path, (1, 3, 512, 768), seed=5)
