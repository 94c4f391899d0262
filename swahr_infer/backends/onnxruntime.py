"""ONNX Runtime backend: runs exported ``.onnx`` SWAHR models.

The CPU provider is used by default; the CUDA provider is added in front of it when the
``onnxruntime-gpu`` package is installed and reports CUDA as available.  Session options that
matter for speed are exposed: ``intra_op_num_threads`` (0 = ONNX Runtime's default, one per
physical core), ``inter_op_num_threads`` and ``graph_optimization_level``
(``"disable" | "basic" | "extended" | "all"``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, Optional, Sequence, Union

import numpy as np

from ..errors import ModelError, OptionError
from ..metadata import ModelInfo
from .base import Backend, check_io, expected_outputs

log = logging.getLogger(__name__)

_OPT_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
               "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}


def default_providers(device: str = "auto") -> Sequence[str]:
    """Execution providers for ``device`` ("auto", "cpu" or "cuda")."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    has_cuda = "CUDAExecutionProvider" in available
    if device == "cpu" or (device == "auto" and not has_cuda):
        return ["CPUExecutionProvider"]
    if device in ("auto", "cuda"):
        if not has_cuda:
            from ..errors import MissingDependencyError

            # no extra of ours provides it (the `gpu` extra is CuPy): the CUDA build of ONNX
            # Runtime is its own package, which replaces the CPU one
            raise MissingDependencyError(
                "onnxruntime-gpu (with CUDA)", "", "running ONNX models on the GPU",
                install="pip uninstall onnxruntime && pip install onnxruntime-gpu (the CUDA "
                        "build of ONNX Runtime replaces the CPU package)")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise OptionError(f"device must be 'auto', 'cpu' or 'cuda', not {device!r}")


class OnnxRuntimeBackend(Backend):
    """An ``onnxruntime.InferenceSession`` over an exported model.

    Args:
        path: the ``.onnx`` file (with swahr-infer metadata).
        device: "auto" (CUDA if available, else CPU), "cpu" or "cuda".
        providers: explicit provider list (overrides ``device``).
        intra_op_num_threads, inter_op_num_threads: ONNX Runtime thread pools (0 = default).
        graph_optimization_level: "disable", "basic", "extended" or "all" (default).
        session_options: a prepared ``onnxruntime.SessionOptions`` (the options above are then
            applied on top of it).
    """

    def __init__(self, path: Union[str, Path], *, device: str = "auto",
                 providers: Optional[Sequence] = None, intra_op_num_threads: int = 0,
                 inter_op_num_threads: int = 0, graph_optimization_level: str = "all",
                 session_options=None):
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"{self.path}: no such model file")
        opts = session_options or ort.SessionOptions()
        if intra_op_num_threads:
            opts.intra_op_num_threads = int(intra_op_num_threads)
        if inter_op_num_threads:
            opts.inter_op_num_threads = int(inter_op_num_threads)
        if graph_optimization_level not in _OPT_LEVELS:
            raise OptionError(f"graph_optimization_level must be one of {sorted(_OPT_LEVELS)}")
        opts.graph_optimization_level = getattr(ort.GraphOptimizationLevel,
                                                _OPT_LEVELS[graph_optimization_level])
        providers = list(providers) if providers else default_providers(device)
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"{self.path}: ONNX Runtime cannot load it: {exc}") from exc
        self.providers = tuple(self.session.get_providers())
        source = str(self.path)
        props = dict(self.session.get_modelmeta().custom_metadata_map)
        self.info: ModelInfo = ModelInfo.from_props(props, source=source)
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ModelError(f"{source}: expected one input, found {len(inputs)}")
        shape = tuple(d if isinstance(d, int) else None for d in inputs[0].shape)
        outputs = {o.name: len(o.shape) for o in self.session.get_outputs()}
        check_io(source, self.info, inputs[0].name, len(shape), outputs,
                 shape[1] if len(shape) > 1 else None)
        self.input_name = inputs[0].name
        self.input_shape = shape
        self.output_names = tuple(expected_outputs(self.info))
        log.info("loaded %s with %s", source, ", ".join(self.providers))

    def run(self, batch: np.ndarray) -> Dict[str, np.ndarray]:
        if self.session is None:
            raise ModelError(f"{self.path}: the session was closed")
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        fixed_n = self.input_shape[0]
        if fixed_n is None or fixed_n == len(batch):
            values = self.session.run(list(self.output_names), {self.input_name: batch})
            return dict(zip(self.output_names, values))
        if len(batch) % fixed_n:
            raise ModelError(f"{self.path}: the model takes batches of exactly {fixed_n}, "
                             f"got {len(batch)}")
        parts = [self.run(batch[i:i + fixed_n]) for i in range(0, len(batch), fixed_n)]
        return {n: np.concatenate([p[n] for p in parts]) for n in self.output_names}

    @property
    def on_device(self) -> bool:
        """True when the session runs on ONNX Runtime's CUDA provider."""
        return "CUDAExecutionProvider" in self.providers

    def run_device(self, batch, stream) -> Dict[str, object]:
        """Run on CuPy memory through IOBinding (CUDA provider only).

        ONNX Runtime queues on its own CUDA stream, so ``stream`` is synchronised before the
        run and the outputs after it: correct, at the cost of one host wait per call.  The
        session must use the same GPU as CuPy's current device.
        """
        from ..gpu.device import import_cupy

        cp = import_cupy("ONNX Runtime on CUDA arrays")
        if self.session is None:
            raise ModelError(f"{self.path}: the session was closed")
        if not self.on_device:
            raise ModelError(f"{self.path}: the session does not use the CUDA provider")
        with stream:
            batch = cp.ascontiguousarray(batch, dtype=cp.float32)
            n, _, height, width = batch.shape
            stride = self.info.output_stride
            shape = (n, self.info.num_joints, height // stride, width // stride)
            outputs = {name: cp.empty(shape, cp.float32) for name in self.output_names}
        device = cp.cuda.Device().id
        binding = self.session.io_binding()
        binding.bind_input(self.input_name, "cuda", device, np.float32, tuple(batch.shape),
                           batch.data.ptr)
        for name, array in outputs.items():
            binding.bind_output(name, "cuda", device, np.float32, shape, array.data.ptr)
        stream.synchronize()
        self.session.run_with_iobinding(binding)
        binding.synchronize_outputs()
        return outputs

    def close(self) -> None:
        self.session = None

BACKEND = OnnxRuntimeBackend
