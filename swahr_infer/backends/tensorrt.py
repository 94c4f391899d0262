"""TensorRT backend: runs serialized engines built by ``swahr-infer build``.

Follows NVIDIA's documented runtime sequence for TensorRT 8.6, 10.x and 11.x, which all have
the tensor-name API: ``Runtime.deserialize_cuda_engine`` -> ``create_execution_context`` ->
per call ``set_input_shape`` / ``set_tensor_address`` for every I/O tensor ->
``execute_async_v3(stream)``.  Device memory and the stream are CuPy's, so the rest of a
GPU pipeline can consume the outputs without host copies (:meth:`run_device`); :meth:`run`
is the host-array interface every backend has.

The engine's metadata sidecar (``<engine>.json``) supplies the ModelInfo and is checked
against the installed TensorRT version and the current GPU before deserialising, so a
mismatch is one clear ModelError instead of a TensorRT assertion.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, Union

import numpy as np

from ..errors import MissingDependencyError, ModelError, OptionError
from ..metadata import ModelInfo
from ..trt_build import check_compatible, gpu_identity, import_tensorrt, read_sidecar
from .base import Backend, check_io

log = logging.getLogger(__name__)


def _import_cupy():
    try:
        import cupy
    except ImportError as exc:
        raise MissingDependencyError("cupy", "gpu", "the TensorRT backend") from exc
    return cupy


class TensorRTBackend(Backend):
    """A deserialised TensorRT engine with one execution context.

    Args:
        path: the ``.engine`` / ``.plan`` file; ``<path>.json`` must sit beside it.
        check: verify TensorRT version and GPU against the sidecar first (default True).
    """

    def __init__(self, path: Union[str, Path], *, check: bool = True, device: str = "cuda"):
        if device not in ("auto", "cuda"):
            raise OptionError(f"TensorRT engines run on CUDA devices only, not {device!r}")
        trt = import_tensorrt()
        self._cp = _import_cupy()
        self.path = str(path)
        sidecar = read_sidecar(self.path)
        if check:
            check_compatible(sidecar, trt.__version__, gpu_identity(), self.path)
        self.info = ModelInfo.from_props(sidecar["model"], source=self.path)
        self._trt = trt
        self._logger = trt.Logger(trt.Logger.WARNING)
        with open(self.path, "rb") as fh:
            plan = fh.read()
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(plan)
        if self._engine is None:
            raise ModelError(f"TensorRT could not deserialise {self.path} (see its log)")
        self._context = self._engine.create_execution_context()
        self._stream = self._cp.cuda.Stream(non_blocking=True)
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        inputs = [n for n in names
                  if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if n not in inputs]
        if len(inputs) != 1:
            raise ModelError(f"{self.path}: expected one input, found {inputs}")
        self.input_name = inputs[0]
        shape = tuple(self._engine.get_tensor_shape(self.input_name))
        check_io(self.path, self.info, self.input_name, len(shape),
                 {n: len(self._engine.get_tensor_shape(n)) for n in outputs},
                 None if shape[1] < 0 else shape[1])
        self.input_shape = tuple(None if d < 0 else int(d) for d in shape)
        self.output_names = tuple(outputs)

    def _dtype(self, name: str):
        return np.dtype(self._trt.nptype(self._engine.get_tensor_dtype(name)))

    @property
    def on_device(self) -> bool:
        return True

    def run_device(self, batch, stream=None) -> Dict[str, object]:
        """Run on a CuPy float32 [N, 3, H, W] array; returns CuPy float32 outputs.

        The work is queued on ``stream`` (default: this backend's own stream); the returned
        arrays are ready once that stream is synchronised (or after any later blocking copy on
        it).
        """
        cp = self._cp
        stream = self._stream if stream is None else stream
        if self._context is None:
            raise ModelError(f"{self.path}: the backend is closed")
        with stream:  # casts and allocations ordered with the engine on the same stream
            image = cp.ascontiguousarray(batch, dtype=self._dtype(self.input_name))
            if not self._context.set_input_shape(self.input_name, tuple(image.shape)):
                raise ModelError(f"{self.path}: input shape {tuple(image.shape)} is outside the "
                                 "engine's optimisation profile (rebuild with --min/--max)")
            self._context.set_tensor_address(self.input_name, image.data.ptr)
            results = {}
            for name in self.output_names:
                shape = tuple(self._context.get_tensor_shape(name))
                out = cp.empty(shape, dtype=self._dtype(name))
                self._context.set_tensor_address(name, out.data.ptr)
                results[name] = out
            if not self._context.execute_async_v3(stream.ptr):
                raise ModelError(f"{self.path}: TensorRT execution failed (see its log)")
            results = {n: (a if a.dtype == np.float32 else a.astype(np.float32))
                       for n, a in results.items()}
        self._keepalive = image  # the input must outlive the queued work
        return results

    @property
    def stream(self):
        return self._stream

    def run(self, batch: np.ndarray) -> Dict[str, np.ndarray]:
        with self._stream:  # the upload ordered before the engine on the same stream
            device_batch = self._cp.asarray(batch)
        outputs = self.run_device(device_batch)
        with self._stream:
            host = {name: self._cp.asnumpy(arr, stream=self._stream)
                    for name, arr in outputs.items()}
        self._stream.synchronize()
        return host

    def close(self) -> None:
        self._context = None
        self._engine = None
        self._runtime = None


BACKEND = TensorRTBackend
