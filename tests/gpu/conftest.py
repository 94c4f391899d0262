"""Fixtures of the GPU tests (their modules carry ``pytestmark = pytest.mark.gpu``)."""

import numpy as np
import pytest


@pytest.fixture(scope="session")
def cp():
    """The cupy module (the gpu marker has already skipped these tests without a GPU)."""
    return pytest.importorskip("cupy")


@pytest.fixture
def poisoned(cp):
    """``poisoned(shape, dtype)``: a device array full of NaN (or -1), to catch unwritten output."""

    def make(shape, dtype=np.float32):
        fill = np.nan if np.dtype(dtype).kind == "f" else -1
        return cp.full(shape, fill, dtype=dtype)

    return make


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """(checkpoint, ONNX export) of a random-weight w8-tiny SWAHR network, the same weights."""
    torch = pytest.importorskip("torch")
    from export.model import build_model
    from export.onnx_export import export_checkpoint

    folder = tmp_path_factory.mktemp("tiny")
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(0)
    model = build_model("w8-tiny").eval()
    torch.random.set_rng_state(generator_state)
    checkpoint = folder / "w8-tiny.pth"
    torch.save(model.state_dict(), checkpoint)
    onnx_path = folder / "w8-tiny.onnx"
    export_checkpoint(checkpoint, onnx_path)
    return checkpoint, onnx_path


@pytest.fixture
def exact_fp32():
    """CUDA float32 convolutions without TF32 (torch enables TF32 for cuDNN by default)."""
    torch = pytest.importorskip("torch")
    previous = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = previous
