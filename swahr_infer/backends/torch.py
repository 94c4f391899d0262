"""PyTorch backend: runs a checkpoint (``.pth`` / ``.pt``) directly, no export step.

The network is the exporter's own graph (:class:`export.onnx_export.ContractGraph` around
:class:`export.model.HigherHRNet`, BatchNorm folded the same way), so the outputs follow the
ONNX contract of :mod:`swahr_infer.metadata`: ``heatmaps`` = mean of the resized stage-0 and the
stage-1 heatmaps, ``tags`` = resized stage-0 tags, ``scales`` optional.

On a GPU (``device="cuda"``, the default when CUDA is available) it runs

* ``precision="fp16"`` (default on CUDA): float16 weights and compute, float32 input, float32
  head and outputs - what the fp16 ONNX export computes; ``"autocast"``: float32 weights under
  ``torch.autocast(float16)``; ``"fp32"``;
* channels-last memory format (``channels_last=True``, default on CUDA);
* optionally as a replayed CUDA graph per input shape (``cuda_graphs=True``): HRNet is hundreds
  of small kernels, launch-bound in eager mode; a graph replays them at once;
* without copies to the host through :meth:`run_device`: CuPy arrays go in and come out through
  DLPack on the caller's stream.

On the CPU it runs float32 eagerly (``run`` with numpy arrays), which is how it is tested
against ONNX Runtime.  Needs torch (the ``export`` extra).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch

from ..errors import ModelError, OptionError
from ..metadata import ModelInfo
from .base import Backend, expected_outputs

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "autocast")
_WARMUP = 3  # eager runs on a side stream before capturing a CUDA graph


class _Graphed:
    """One CUDA graph of the network for one input shape, with its static input and outputs."""

    def __init__(self, forward, example: "torch.Tensor"):
        self.input = example.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(_WARMUP):
                forward(self.input)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.outputs = forward(self.input)

    def __call__(self, batch: "torch.Tensor") -> Tuple["torch.Tensor", ...]:
        self.input.copy_(batch)
        self.graph.replay()
        return self.outputs


class TorchBackend(Backend):
    """A SWAHR / HigherHRNet checkpoint run by PyTorch.

    Args:
        path: a state dict or training checkpoint (see :func:`export.checkpoint.load_checkpoint`).
        device: "auto" (CUDA when available), "cpu" or "cuda".
        precision: "fp32", "fp16" or "autocast" (CUDA only for the last two); default fp16 on
            CUDA, fp32 on the CPU.
        channels_last: NHWC memory format (default on CUDA).
        cuda_graphs: capture and replay a CUDA graph per input shape (CUDA only; default off).
        with_scales: also return the SWAHR ``scales`` output.
        arch: architecture name when it cannot be read from the weights.
        intra_op_num_threads: torch's CPU threads (process-wide ``torch.set_num_threads``).
    """

    def __init__(self, path: Union[str, Path], *, device: str = "auto",
                 precision: Optional[str] = None, channels_last: Optional[bool] = None,
                 cuda_graphs: bool = False, with_scales: bool = False,
                 arch: Optional[str] = None, intra_op_num_threads: int = 0):
        from export.checkpoint import load_checkpoint
        from export.onnx_export import ContractGraph, fold_batchnorm

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device not in ("cpu", "cuda"):
            raise OptionError(f"device must be 'auto', 'cpu' or 'cuda', not {device!r}")
        if device == "cuda" and not torch.cuda.is_available():
            from ..errors import DeviceError

            raise DeviceError("device='cuda' but torch sees no CUDA GPU "
                              f"(torch {torch.__version__})")
        precision = precision or ("fp16" if device == "cuda" else "fp32")
        if precision not in PRECISIONS:
            raise OptionError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        if device == "cpu" and (precision != "fp32" or cuda_graphs):
            raise OptionError("on the CPU the torch backend runs fp32 without CUDA graphs")
        if intra_op_num_threads:
            torch.set_num_threads(int(intra_op_num_threads))
        self.path = Path(path)
        model, info = load_checkpoint(self.path, arch=arch)
        net = fold_batchnorm(model.float().eval())
        half = precision == "fp16"
        if half:
            net = net.half()
        graph = ContractGraph(net, with_scales=with_scales, half=half).eval()
        self.device = torch.device(device)
        self.channels_last = (device == "cuda") if channels_last is None else bool(channels_last)
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self._graph = graph.to(self.device, memory_format=memory_format)
        self._memory_format = memory_format
        self.precision = precision
        self.cuda_graphs = bool(cuda_graphs) and device == "cuda"
        self._graphs: Dict[Tuple[int, ...], _Graphed] = {}
        self.info: ModelInfo = replace(info, precision="fp32" if precision == "fp32" else "fp16",
                                       has_scale_output=bool(with_scales))
        self.output_names = tuple(expected_outputs(self.info))
        log.info("loaded %s on %s (%s%s%s)", self.path, device, precision,
                 ", channels-last" if self.channels_last else "",
                 ", CUDA graphs" if self.cuda_graphs else "")

    # -- running ------------------------------------------------------------------------------

    def _forward(self, batch: "torch.Tensor") -> Tuple["torch.Tensor", ...]:
        """The network on a float32 NCHW tensor on ``self.device``: contiguous float32 outputs."""
        x = batch.contiguous(memory_format=self._memory_format)
        if self.precision == "autocast":
            with torch.autocast("cuda", dtype=torch.float16):
                outputs = self._graph(x)
        else:
            outputs = self._graph(x)
        return tuple(o.float().contiguous() for o in outputs)

    def _outputs(self, batch: "torch.Tensor") -> Dict[str, "torch.Tensor"]:
        if self._graph is None:
            raise ModelError(f"{self.path}: the backend is closed")
        if batch.ndim != 4 or batch.shape[1] != 3:
            raise ModelError(f"{self.path}: expected a [N, 3, H, W] batch, got {tuple(batch.shape)}")
        with torch.inference_mode():  # the graphs' static tensors are inference tensors
            if self.cuda_graphs:
                key = tuple(batch.shape)
                graphed = self._graphs.get(key)
                if graphed is None:
                    log.info("capturing a CUDA graph for input %s", key)
                    graphed = self._graphs[key] = _Graphed(self._forward, batch)
                outputs = graphed(batch)
            else:
                outputs = self._forward(batch)
        return dict(zip(self.output_names, outputs))

    def run(self, batch: np.ndarray) -> Dict[str, np.ndarray]:
        tensor = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
        outputs = self._outputs(tensor.to(self.device))
        return {name: value.cpu().numpy() for name, value in outputs.items()}

    @property
    def on_device(self) -> bool:
        return self.device.type == "cuda"

    def run_device(self, batch, stream) -> Dict[str, object]:
        """CuPy in, CuPy out through DLPack (no copies), queued on ``stream``.

        With ``cuda_graphs`` the outputs are the graph's static buffers: valid until the next
        call with the same input shape.
        """
        from ..gpu.device import import_cupy

        cp = import_cupy("the torch backend on CUDA arrays")
        if not self.on_device:
            raise ModelError(f"{self.path}: the torch backend runs on the CPU")
        with stream, torch.cuda.stream(torch.cuda.ExternalStream(stream.ptr)):
            tensor = torch.from_dlpack(cp.ascontiguousarray(batch, dtype=cp.float32))
            outputs = self._outputs(tensor)
            return {name: cp.from_dlpack(value) for name, value in outputs.items()}

    def close(self) -> None:
        self._graphs.clear()
        self._graph = None


BACKEND = TorchBackend
