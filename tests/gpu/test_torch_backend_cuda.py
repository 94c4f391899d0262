"""The torch backend on CUDA: fp32 / fp16 / autocast, channels-last, CUDA graphs, DLPack."""

import numpy as np
import pytest

from swahr_infer.backends import load_backend

pytestmark = pytest.mark.gpu


def _batch(seed=0, shape=(2, 3, 128, 192)):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_fp32_matches_cpu(tiny_weights, exact_fp32):
    checkpoint, _ = tiny_weights
    cpu = load_backend(checkpoint, device="cpu").run(_batch())
    gpu = load_backend(checkpoint, device="cuda", precision="fp32").run(_batch())
    for name in cpu:
        np.testing.assert_allclose(gpu[name], cpu[name], rtol=0, atol=1e-4)


@pytest.mark.parametrize("precision", ["fp16", "autocast"])
def test_half_precision_is_close(tiny_weights, exact_fp32, precision):
    checkpoint, _ = tiny_weights
    reference = load_backend(checkpoint, device="cuda", precision="fp32").run(_batch())
    half = load_backend(checkpoint, device="cuda", precision=precision)
    assert half.info.precision == "fp16"
    got = half.run(_batch())
    for name in reference:
        assert got[name].dtype == np.float32
        np.testing.assert_allclose(got[name], reference[name], rtol=0, atol=2e-2)


def test_cuda_graphs_replay_eager_results(cp, tiny_weights):
    checkpoint, _ = tiny_weights
    eager = load_backend(checkpoint, device="cuda", precision="fp16")
    graphed = load_backend(checkpoint, device="cuda", precision="fp16", cuda_graphs=True)
    for seed, shape in [(0, (2, 3, 128, 192)), (1, (2, 3, 128, 192)), (2, (1, 3, 96, 64))]:
        expected = eager.run(_batch(seed, shape))
        got = graphed.run(_batch(seed, shape))
        for name in expected:  # same kernels; 1e-3 is a few fp16 steps, a stale input is ~0.1
            np.testing.assert_allclose(got[name], expected[name], rtol=0, atol=1e-3)
    assert len(graphed._graphs) == 2  # one graph per input shape


def test_run_device_is_run_on_cupy_arrays(cp, tiny_weights):
    checkpoint, _ = tiny_weights
    backend = load_backend(checkpoint, device="cuda", precision="fp32", cuda_graphs=True)
    assert backend.on_device
    stream = cp.cuda.Stream(non_blocking=True)
    host = backend.run(_batch(3))
    outputs = backend.run_device(cp.asarray(_batch(3)), stream)
    stream.synchronize()
    for name, value in outputs.items():
        assert isinstance(value, cp.ndarray) and value.dtype == np.float32
        np.testing.assert_allclose(value.get(), host[name], rtol=0, atol=1e-6)
