"""Export a SWAHR / HigherHRNet network to an ONNX file that describes itself.

The graph (contract in :mod:`swahr_infer.metadata`): input ``image`` float32 [N, 3, H, W]
(normalised RGB, H and W multiples of 32); outputs float32

* ``heatmaps`` [N, K, H/2, W/2] = (stage-0 heatmaps resized x2 + stage-1 heatmaps) / 2,
* ``tags`` [N, K, H/2, W/2] = stage-0 tags resized x2,
* ``scales`` [N, K, H/2, W/2] = stage-1 SWAHR scale map (only with ``with_scales``).

The resize is bilinear with ``align_corners=False`` and is applied to stage 0's heatmaps and tags
together before they are split, as the official test code does; the mean is taken in float32 as
``(a + b) / 2``.  Scale channels are dropped unless asked for.

Steps: BatchNorm folded into the preceding convolutions (in float32, on a copy of the network);
TorchScript-based ``torch.onnx.export`` (opset 17, the highest TensorRT 8.6 parses; dynamic batch,
height and width unless fixed); onnxslim (constant folding, dead nodes and identities removed);
``swahr.*`` metadata from :class:`~swahr_infer.metadata.ModelInfo`;
``onnx.checker.check_model(full_check=True)``; a check of every node against the TensorRT
parser's support matrix (:mod:`export.tensorrt_ops`); then the file is written under a temporary
name in the target directory and renamed, so a failed or interrupted export never leaves a
half-written model behind.

FP16 (``fp16=True``): weights and the network's compute are float16, while the ``image`` input and
all outputs stay float32 with ``Cast`` nodes inside the graph, and the head (resize and mean) runs
in float32.  Precision is therefore stated in the graph itself, which is what strongly typed
TensorRT builds need (TensorRT 10 ``--stronglyTyped``; TensorRT 11 is always strongly typed and has
no FP16 builder flag) and what ONNX Runtime's CUDA provider runs natively.  ONNX Runtime's CPU
provider runs it too (tested).  BatchNorm is folded in float32 before the
weights are rounded to float16, so the weights are rounded once.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import logging
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from swahr_infer import __version__
from swahr_infer.atomic_file import replacing
from swahr_infer.errors import ModelError, OptionError
from swahr_infer.metadata import INPUT_NAME, OUTPUTS, ModelInfo

from .checkpoint import info_for, load_checkpoint
from .model import ArchConfig, HigherHRNet
from .tensorrt_ops import MAX_OPSET, tensorrt_problems

log = logging.getLogger(__name__)

DEFAULT_OPSET = MAX_OPSET
SIZE_DIVISOR = 32
_TRACE_SIZE = 128  # spatial size of the example input when height and width stay dynamic


class ContractGraph(nn.Module):
    """``image -> heatmaps, tags[, scales]`` around a :class:`HigherHRNet` (see module doc)."""

    def __init__(self, net: HigherHRNet, with_scales: bool = False, half: bool = False):
        super().__init__()
        if with_scales and not net.cfg.scale_heads:
            raise ModelError("with_scales needs a SWAHR model; this HigherHRNet has no scale heads")
        self.net = net
        self.num_joints = net.cfg.num_joints
        self.scale_channels = net.cfg.num_joints if net.cfg.scale_heads else 0
        self.with_scales = with_scales
        self.fp16 = half

    def forward(self, image: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        k, s = self.num_joints, self.scale_channels
        stage0, stage1 = self.net(image.half() if self.fp16 else image)
        stage0, stage1 = stage0.float(), stage1.float()  # no-ops in fp32
        maps0 = stage0[:, s:] if s else stage0  # heatmaps + tags, 1/4 resolution
        maps0 = F.interpolate(maps0, scale_factor=2.0, mode="bilinear", align_corners=False)
        heatmaps = (maps0[:, :k] + stage1[:, s:s + k]) / 2
        tags = maps0[:, k:]
        if self.with_scales:
            return heatmaps, tags, stage1[:, :k]
        return heatmaps, tags


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold each eval-mode BatchNorm into the convolution that feeds it (in place).

    In this network a BatchNorm always directly follows a convolution: as the next element of an
    ``nn.Sequential``, or as ``bn<i>`` after ``conv<i>`` in a block.  Folded ones become
    ``nn.Identity``; the state dict is no longer the official one, so fold a copy.
    """
    for parent in list(model.modules()):
        children = dict(parent.named_children())
        if isinstance(parent, nn.Sequential):
            names = list(children)
            pairs = list(zip(names, names[1:]))
        else:
            pairs = [(f"conv{i}", f"bn{i}") for i in (1, 2, 3)]
        for conv_name, bn_name in pairs:
            conv, bn = children.get(conv_name), children.get(bn_name)
            if isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)) and isinstance(bn, nn.BatchNorm2d):
                fused = fuse_conv_bn_eval(conv, bn, transpose=isinstance(conv, nn.ConvTranspose2d))
                setattr(parent, conv_name, fused)
                setattr(parent, bn_name, nn.Identity())
    left = [name for name, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]
    if left:
        log.warning("%d BatchNorm layers not folded (first: %s)", len(left), left[0])
    return model


def export_checkpoint(checkpoint: Union[str, Path], output: Union[str, Path],
                      arch: Union[str, ArchConfig, None] = None, **options) -> ModelInfo:
    """Load ``checkpoint`` (see :func:`export.checkpoint.load_checkpoint`) and export it
    (never over the checkpoint itself)."""
    check_not_input(checkpoint, output)
    model, info = load_checkpoint(checkpoint, arch=arch)
    return export_onnx(model, output, info, **options)


def max_opset() -> int:
    """The newest opset the TorchScript ONNX exporter of the installed PyTorch writes (20 for
    torch 2.1-2.13); asking for more ends in a long traceback from inside the exporter."""
    from torch.onnx import _constants

    return int(getattr(_constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", 20))


def check_not_input(checkpoint: Union[str, Path], output: Union[str, Path]) -> None:
    """Refuse an output that is the checkpoint being exported: the model would replace the
    weights it comes from."""
    from swahr_infer.evaluate import same_file

    if same_file(checkpoint, output):
        raise OptionError(f"the output {output} is the checkpoint being exported: it would "
                          "replace the weights; write the model elsewhere")


def export_onnx(model: HigherHRNet, output: Union[str, Path], info: Optional[ModelInfo] = None,
                *, static_size: Optional[Tuple[int, int]] = None, batch: Optional[int] = None,
                fp16: bool = False, with_scales: bool = False,
                opset: int = DEFAULT_OPSET, input_size: Optional[int] = None) -> ModelInfo:
    """Write ``model`` to ``output`` as ONNX; return the :class:`ModelInfo` stored in it.

    ``static_size`` = (height, width) fixes the spatial size, ``batch`` the batch size; both are
    dynamic by default.  ``info`` defaults to the official defaults of ``model.cfg``.
    ``input_size`` replaces the test-time input size of the metadata (the short side the
    runtime resizes images to at scale 1): weights fine-tuned at another resolution than their
    architecture's official one should be run at the resolution they were trained at.
    """
    if opset < 17:
        raise ModelError(f"opset {opset} is too old: the export needs opset 17 or newer")
    newest = max_opset()
    if opset > newest:
        raise ModelError(f"opset {opset} is newer than this PyTorch's ONNX exporter writes: "
                         f"choose 17 to {newest} (17 is what TensorRT 8.6 parses)")
    if static_size is not None:
        _check_size(static_size)
    if batch is not None and batch < 1:
        raise ModelError(f"batch must be at least 1, got {batch}")
    info = replace(info or info_for(model.cfg), precision="fp16" if fp16 else "fp32",
                   has_scale_output=with_scales, exporter_version=__version__)
    if input_size is not None:
        if input_size < info.size_divisor or input_size % info.size_divisor:
            raise ModelError(f"input size must be a positive multiple of {info.size_divisor}, "
                             f"got {input_size}")
        info = replace(info, input_size=input_size)
    with atomic_output(Path(output)) as temporary:
        graph = _contract_graph(model, with_scales, fp16)
        onnx_model = _trace(graph, static_size, batch, opset, info)
        onnx_model = _simplify(onnx_model)
        _set_metadata(onnx_model, info)
        _check(onnx_model)
        temporary.write_bytes(onnx_model.SerializeToString())
    log.info("wrote %s (%s, %s)", output, info.arch, info.precision)
    return info


def _check_size(size: Tuple[int, int]) -> None:
    if len(size) != 2 or any(int(v) <= 0 or int(v) % SIZE_DIVISOR for v in size):
        raise ModelError(
            f"static size must be two positive multiples of {SIZE_DIVISOR} (height, width), "
            f"got {tuple(size)}")


def _contract_graph(model: HigherHRNet, with_scales: bool, fp16: bool) -> ContractGraph:
    net = fold_batchnorm(copy.deepcopy(model).float().eval())
    if fp16:
        net = net.half()
    return ContractGraph(net, with_scales=with_scales, half=fp16).eval()


def _trace(graph: ContractGraph, static_size, batch, opset: int, info: ModelInfo):
    """The TorchScript-based exporter: it works from torch 2.1 on without extra packages."""
    import onnx

    height, width = static_size or (_TRACE_SIZE, _TRACE_SIZE)
    example = torch.zeros(batch or 1, 3, int(height), int(width))
    outputs = list(OUTPUTS[:3 if graph.with_scales else 2])
    input_axes: Dict[int, str] = {}
    output_axes: Dict[int, str] = {}
    if batch is None:
        input_axes[0] = output_axes[0] = "batch"
    if static_size is None:
        input_axes.update({2: "height", 3: "width"})
        output_axes.update({2: "half_height", 3: "half_width"})
    options = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters \
        else {}
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter announces its deprecation; nothing for the user to act on
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        torch.onnx.export(
            graph, (example,), buffer, input_names=[INPUT_NAME], output_names=outputs,
            opset_version=opset, do_constant_folding=True,
            dynamic_axes={name: dict(axes) for name, axes in
                          [(INPUT_NAME, input_axes)] + [(o, output_axes) for o in outputs]},
            **options)
    model = onnx.load_model_from_string(buffer.getvalue())
    model.doc_string = (f"swahr-infer {__version__}: {info.arch} "
                        f"({'SWAHR' if info.has_scale_heads else 'HigherHRNet'}, "
                        f"{info.num_joints} joints, {info.precision})")
    return model


def _simplify(model):
    try:
        import onnxslim
    except ImportError:  # an optimisation only: the unsimplified graph is valid and runs
        log.warning("onnxslim is not installed: the graph is written without simplification "
                    "(pip install onnxslim)")
        return model
    return onnxslim.slim(model)


def _set_metadata(model, info: ModelInfo) -> None:
    del model.metadata_props[:]
    for key, value in info.to_props().items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def _check(model) -> None:
    import onnx

    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:  # a bug of ours, reported in one line
        raise ModelError(f"the exported graph fails the ONNX checker: {exc}") from exc
    for problem in tensorrt_problems(model):
        log.warning("TensorRT may not parse the exported graph: %s", problem)


def op_counts(model) -> Dict[str, int]:
    """How many nodes of each operator type ``model``'s graph has."""
    counts: Dict[str, int] = {}
    for node in model.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """:func:`swahr_infer.atomic_file.replacing` for a model file (the ONNX export, the trainer's
    checkpoints, so a run killed while saving keeps the last whole one), its set-up failures as
    :class:`ModelError`. Failures inside the block pass on as they are."""
    stack = contextlib.ExitStack()
    try:
        temporary = stack.enter_context(replacing(path))
    except IsADirectoryError as exc:
        raise ModelError(f"cannot write the model to {path}: it is a directory") from exc
    except OSError as exc:
        raise ModelError(f"cannot write the model to {path}: {exc.strerror or exc}") from exc
    with stack:
        yield temporary
