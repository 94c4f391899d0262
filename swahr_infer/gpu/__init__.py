"""The GPU pipeline: preprocessing, fusion, NMS / top-k and refine as CUDA kernels (CuPy).

One image goes through, top to bottom (:class:`~swahr_infer.gpu.pipeline.GpuPipeline`):

1. the uint8 image is uploaded from pinned memory (:mod:`.device`);
2. :mod:`.preprocess` warps, normalises and mirrors it into the network batch (one launch per
   test scale);
3. the backend runs on the device (``Backend.run_device``: TensorRT, the torch backend,
   ONNX Runtime with CUDA through IOBinding);
4. :mod:`.fusion` flips back, averages and projects the outputs to the fused maps;
5. :mod:`.nms` finds the peaks and the top-k per joint with their tags and adjust shifts: only
   these K x k rows go to the host;
6. grouping runs on the host (:func:`swahr_infer.decode.group_candidates`, unchanged);
7. :mod:`.refine` evaluates refine's whole-map argmax for every missing joint in one launch.

Each step has the numpy function it must agree with named in its docstring; ``tests/gpu``
checks them against each other.  CuPy (``pip install "swahr-infer[gpu]"``, i.e.
``cupy-cuda12x``; CUDA 13 users install ``cupy-cuda13x``) is imported only inside these
modules, and the kernels (``swahr_infer/gpu/kernels/*.cu``) are compiled by NVRTC on first use
and cached on disk by CuPy.
"""

from __future__ import annotations

__all__ = ["GpuPipeline"]


def __getattr__(name: str):
    if name == "GpuPipeline":
        from .pipeline import GpuPipeline

        return GpuPipeline
    raise AttributeError(f"module 'swahr_infer.gpu' has no attribute {name!r}")
