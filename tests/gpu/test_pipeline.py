"""The device pipeline end to end, against the CPU pipeline."""

import numpy as np
import pytest

from swahr_infer import Estimator
from swahr_infer.backends import Backend
from swahr_infer.backends.onnxruntime import OnnxRuntimeBackend
from swahr_infer.benchmark import pose_agreement
from swahr_infer.decode import DecodeParams, group_poses
from swahr_infer.gpu.fusion import DeviceMaps
from swahr_infer.gpu.pipeline import GpuPipeline, decode_maps
from swahr_infer.image_io import to_pixels
from swahr_infer.preprocess import plan_scales
from tests.runtime.conftest import blob_image
from tests.runtime.tiny_model import build_tiny_model

from .maps import noise_maps, people_maps, tied_maps

pytestmark = pytest.mark.gpu


class HostOnDevice(Backend):
    """A real ONNX Runtime CPU session behind the device interface: the batch is copied to
    the host, run, and the outputs copied back.  It lets the device pipeline run the tiny
    contract models of tests/runtime (whose maps have clean peaks and one person per blob)."""

    def __init__(self, path):
        self.inner = OnnxRuntimeBackend(path, device="cpu")
        self.info, self.output_names = self.inner.info, self.inner.output_names

    def run(self, batch):
        return self.inner.run(batch)

    @property
    def on_device(self):
        return True

    def run_device(self, batch, stream):
        import cupy

        with stream:
            host = batch.get(stream=stream)
            return {name: cupy.asarray(value) for name, value in self.inner.run(host).items()}


@pytest.mark.parametrize("maker", ["people", "noise", "tied"])
def test_device_decoding_equals_cpu_decoding(cp, maker):
    """Same maps in: identical persons and scores (grouping is the CPU code on identical
    candidates, refine's argmax is exact), even on noise and tied maps."""
    if maker == "people":
        hm, tags = people_maps(15, 192, 256, noise=0.02)
    elif maker == "noise":
        hm, tags = noise_maps(17, 96, 128)
        hm *= 0.3
    else:
        hm, tags = tied_maps(17, 64, 80)
    params = DecodeParams(detection_threshold=0.1)
    maps = DeviceMaps(cp.asarray(hm), cp.asarray(tags), None, cp.zeros(1, np.int32))
    persons, scores = decode_maps(maps, params)
    expected_persons, expected_scores = group_poses(hm, tags, params)
    assert len(expected_persons)
    np.testing.assert_array_equal(persons, expected_persons)
    np.testing.assert_array_equal(scores, expected_scores)


@pytest.mark.parametrize("scales", [(1.0,), (2.0, 1.0)])
@pytest.mark.parametrize("flip", [True, False])
def test_tiny_model_end_to_end_same_people(cp, tmp_path, scales, flip):
    model = build_tiny_model(tmp_path / "tiny.onnx")
    image = blob_image(330, 470, seed=4, blobs=5)
    options = dict(scales=scales, flip=flip, detection_threshold=0.5)
    cpu = Estimator(str(model), device="cpu", **options)
    gpu = Estimator(HostOnDevice(model), device="cuda", **options)
    assert gpu.gpu is not None and cpu.gpu is None
    expected, got = cpu.predict(image), gpu.predict(image)
    assert len(expected) > 0
    agreement = pose_agreement(got.keypoints, expected.keypoints, tolerance_px=0.05)
    assert agreement["share_matched"] == 1.0 and agreement["same_order"], agreement
    np.testing.assert_allclose(got.scores, expected.scores, rtol=0, atol=1e-4)
    assert set(gpu.last_timings) >= {"preprocess", "inference", "fusion", "decode", "total"}


def test_torch_backend_pipeline(cp, tiny_weights, exact_fp32):
    """Random w8-tiny weights, torch on CUDA (fp32) through the device pipeline vs ONNX
    Runtime on the CPU: fused maps within 1e-4, and the device decoder gives exactly what
    the CPU decoder gives on the device's fused maps.  (Final poses of two engines are not
    compared one to one: random weights give ~30 noise people whose grouping flips on 1e-6
    differences, SPEC.md "Ties".)"""
    checkpoint, onnx_path = tiny_weights
    image = blob_image(300, 420, seed=7)
    gpu = Estimator(str(checkpoint), device="cuda", precision="fp32")
    cpu = Estimator(str(onnx_path), device="cpu")
    assert isinstance(gpu.gpu, GpuPipeline)
    pixels, order = to_pixels(image)
    plan = plan_scales(pixels.shape[:2], gpu.input_size, gpu.scales)
    device_maps = gpu.gpu.fused(pixels, order, plan)
    persons, scores = gpu.gpu.decode(device_maps)
    fused = device_maps.to_host()
    expected, _ = cpu.fused_maps(image)
    np.testing.assert_allclose(fused.heatmaps, expected.heatmaps, rtol=0, atol=1e-4)
    np.testing.assert_allclose(fused.tags, expected.tags, rtol=0, atol=1e-4)
    ref_persons, ref_scores = group_poses(fused.heatmaps, fused.tags, gpu.params)
    np.testing.assert_array_equal(persons, ref_persons)
    np.testing.assert_array_equal(scores, ref_scores)
    poses = gpu.predict(image)
    assert len(poses) == len(ref_persons)


def test_nonfinite_outputs_raise(cp, tmp_path):
    from swahr_infer.errors import OutputError

    class Broken(HostOnDevice):
        def run_device(self, batch, stream):
            outputs = super().run_device(batch, stream)
            outputs["heatmaps"][0, 0, 0, 0] = np.nan
            return outputs

    model = build_tiny_model(tmp_path / "tiny.onnx")
    gpu = Estimator(Broken(model), device="cuda")
    with pytest.raises(OutputError, match="non-finite"):
        gpu.predict(blob_image())
