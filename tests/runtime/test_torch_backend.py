"""The torch backend on the CPU: a checkpoint run directly gives the ONNX graph's outputs."""

import subprocess
import sys

import numpy as np
import pytest

from swahr_infer import Estimator
from swahr_infer.backends import load_backend
from swahr_infer.errors import DeviceError, OptionError

from .conftest import blob_image

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.slow  # an export in the fixture, then real sessions


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """(checkpoint, its ONNX export): a random-weight w8-tiny SWAHR network."""
    from export.model import build_model
    from export.onnx_export import export_checkpoint

    folder = tmp_path_factory.mktemp("torch_backend")
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(0)
        checkpoint = folder / "w8-tiny.pth"
        torch.save(build_model("w8-tiny").eval().state_dict(), checkpoint)
        export_checkpoint(checkpoint, folder / "w8-tiny.onnx")
    finally:
        torch.random.set_rng_state(state)
        torch.set_num_threads(threads)
    return checkpoint, folder / "w8-tiny.onnx"


def test_outputs_match_onnx_runtime(weights):
    checkpoint, onnx_path = weights
    net = load_backend(checkpoint, device="cpu", intra_op_num_threads=2)
    ort = load_backend(onnx_path, intra_op_num_threads=2)
    assert net.info.num_joints == ort.info.num_joints == 17
    assert net.output_names == ort.output_names == ("heatmaps", "tags")
    assert not net.on_device
    batch = np.random.default_rng(0).normal(size=(2, 3, 96, 160)).astype(np.float32)
    got, expected = net.run(batch), ort.run(batch)
    for name in expected:
        assert got[name].shape == expected[name].shape == (2, 17, 48, 80)
        np.testing.assert_allclose(got[name], expected[name], rtol=0, atol=1e-5)


def test_estimator_on_a_checkpoint(weights):
    checkpoint, onnx_path = weights
    image = blob_image(150, 230, seed=3)
    est = Estimator(str(checkpoint), device="cpu", threads=2)
    assert est.gpu is None and est.backend.precision == "fp32"
    ref = Estimator(str(onnx_path), device="cpu", threads=2)
    got, expected = est.fused_maps(image)[0], ref.fused_maps(image)[0]
    np.testing.assert_allclose(got.heatmaps, expected.heatmaps, rtol=0, atol=1e-5)
    np.testing.assert_allclose(got.tags, expected.tags, rtol=0, atol=1e-5)
    poses = est.predict(image)
    assert poses.keypoints.shape[1:] == (17, 3) and set(est.last_timings) >= {"inference"}


def test_with_scales_output(weights):
    checkpoint, _ = weights
    net = load_backend(checkpoint, device="cpu", with_scales=True)
    assert net.info.has_scale_output and "scales" in net.output_names
    out = net.run(np.zeros((1, 3, 64, 64), np.float32))
    assert out["scales"].shape == (1, 17, 32, 32)


def test_option_errors(weights):
    checkpoint, _ = weights
    with pytest.raises(OptionError, match="fp32"):  # a ValueError too
        load_backend(checkpoint, device="cpu", precision="fp16")
    with pytest.raises(OptionError, match="precision"):
        load_backend(checkpoint, device="cpu", precision="int8")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA"):
            load_backend(checkpoint, device="cuda")


def test_without_torch_names_the_export_extra(tmp_path):
    checkpoint = tmp_path / "m.pth"
    checkpoint.write_bytes(b"not read")
    run = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['torch'] = None\n"
         "from swahr_infer.backends import load_backend\n"
         "from swahr_infer.errors import MissingDependencyError\n"
         "try:\n"
         f"    load_backend({str(checkpoint)!r})\n"
         "except MissingDependencyError as exc:\n"
         "    print(exc)\n"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "swahr-infer[export]" in run.stdout


def test_the_official_checkpoint_name_runs(weights, tmp_path):
    """checkpoint.pth.tar (the official trainer's name) is a torch checkpoint, as export takes
    it; and input_size=0 is refused rather than read as "the model's"."""
    import shutil

    checkpoint, _ = weights
    tar = tmp_path / "checkpoint.pth.tar"
    shutil.copy(checkpoint, tar)
    image = blob_image()
    from_tar = Estimator(str(tar), device="cpu").predict(image)
    assert len(from_tar) and from_tar == Estimator(str(checkpoint), device="cpu").predict(image)
    with pytest.raises(OptionError, match="input_size must be positive, not 0"):
        Estimator(str(checkpoint), device="cpu", input_size=0)
