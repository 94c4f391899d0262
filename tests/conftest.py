"""Shared fixtures and the ``gpu`` / ``tensorrt`` skips."""

import importlib.util

import pytest


def _has_cuda() -> bool:
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - any CUDA failure means "no usable GPU"
        return False


def _has_tensorrt() -> bool:
    """The real NVIDIA package, not a folder named tensorrt somewhere on sys.path."""
    try:
        import tensorrt
    except ImportError:
        return False
    return hasattr(tensorrt, "Builder")


def pytest_collection_modifyitems(config, items):
    has_gpu = _has_cuda()
    has_trt = _has_tensorrt()
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU with cupy (pip install 'swahr-infer[gpu]')")
    skip_trt = pytest.mark.skip(reason="needs the tensorrt Python package (NVIDIA TensorRT 8.6/10.x/11.x)")
    for item in items:
        # markers, not keywords: keywords also hold folder names (tests/gpu/...)
        # torch_cuda: a torch-only GPU test (training on CUDA) with its own
        # torch.cuda.is_available() skip, so it runs on a CUDA machine without CuPy too
        if item.get_closest_marker("gpu") and not has_gpu and not item.get_closest_marker(
                "torch_cuda"):
            item.add_marker(skip_gpu)
        if item.get_closest_marker("tensorrt") and not has_trt:
            item.add_marker(skip_trt)
