"""Convert a SWAHR / HigherHRNet PyTorch checkpoint into an ONNX model for swahr-infer.

The architecture (width, joints, scale heads, module counts) is read from the checkpoint; plain
state dicts, {'state_dict': ...} / {'model': ...} wrappers and DataParallel 'module.' prefixes
are accepted, and the file is read with weights_only=True.  The ONNX model has input 'image'
float32 [N, 3, H, W] (normalised RGB, H and W multiples of 32) and outputs 'heatmaps' and 'tags'
[N, K, H/2, W/2] (and 'scales' with --with-scales); batch, height and width are dynamic unless
fixed with --static / --batch.  The official decoding defaults travel in the model's metadata.

The model's test-time input size is --input-size, else the input_size of a config.json beside
the checkpoint (what `swahr-infer train` writes into its run folder) when it names the same
architecture, else the architecture's official one.

examples:
  swahr-infer export pose_higher_hrnet_w32_512.pth -o w32.onnx
  swahr-infer export runs/w16-small/model_final.pth -o w16-small.onnx   # size from its config.json
  swahr-infer export checkpoint.pth.tar -o w48_fp16.onnx --fp16 --static 640x960 --batch 2

Needs the export extra: pip install "swahr-infer[export]" (torch, onnx, onnxslim).
"""

from __future__ import annotations

import argparse
import json
import time
from importlib import import_module
from pathlib import Path
from typing import Optional, Tuple

from ..checks import is_int
from ..errors import MissingDependencyError
from .args import dims, int_at_least

HELP = "convert a PyTorch checkpoint to an ONNX model (needs the export extra)"

# names of export.model.ARCHS, repeated here so that --help works without torch
# (tests/export/test_export_cli.py keeps the two in step)
ARCH_NAMES = ("w32", "w48", "crowdpose-w48", "w16-small", "w8-tiny")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="PyTorch checkpoint (.pth, .pth.tar, .pt)")
    parser.add_argument("-o", "--output",
                        help="ONNX file to write (default: beside the checkpoint, its name with .onnx, "
                             "or _fp16.onnx with --fp16)")
    parser.add_argument("--arch", metavar="NAME",
                        help="architecture instead of the inferred one: " + ", ".join(ARCH_NAMES))
    parser.add_argument("--static", type=dims("HxW", multiple=32), metavar="HxW",
                        help="fix the input height and width (default: dynamic)")
    parser.add_argument("--batch", type=int_at_least(1), metavar="N",
                        help="fix the batch size (default: dynamic)")
    parser.add_argument("--fp16", action="store_true",
                        help="float16 weights and compute, float32 input and outputs (for "
                             "strongly typed TensorRT builds and ONNX Runtime CUDA)")
    parser.add_argument("--with-scales", action="store_true",
                        help="add the SWAHR 'scales' output (stage-1 scale maps)")
    parser.add_argument("--input-size", type=int, metavar="N",
                        help="test-time input size written to the model (short side at scale "
                             "1; default: the input_size of the training run's config.json "
                             "beside the checkpoint if it names the same architecture, else the "
                             "architecture's official one, e.g. 512 for W32); give the size the "
                             "weights were trained at if it differs")
    parser.add_argument("--opset", type=int, default=17,
                        help="ONNX opset, 17 to what the installed PyTorch's exporter writes (20 "
                             "for torch 2.x); default 17, the newest TensorRT 8.6 parses")


def _require(package: str) -> None:
    try:
        import_module(package)
    except ImportError:
        raise MissingDependencyError(package, "export", "swahr-infer export") from None


def default_output(checkpoint: str, fp16: bool = False) -> Path:
    path = Path(checkpoint)
    stem = path.name
    while Path(stem).suffix in (".tar", ".pth", ".pt", ".ckpt"):
        stem = Path(stem).stem
    return path.with_name(stem + ("_fp16" if fp16 else "") + ".onnx")


def trained_input_size(checkpoint: str, arch: str) -> Optional[Tuple[int, Path]]:
    """(input size, config.json) of the training run ``checkpoint`` comes from: the config.json
    beside it, when it records an input size and ``arch`` (or no architecture); else None."""
    path = Path(checkpoint).with_name("config.json")
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):  # no run folder's config: nothing to go by
        return None
    if not isinstance(config, dict) or config.get("arch", arch) != arch:
        return None
    size = config.get("input_size")
    if is_int(size) and size > 0:
        return size, path
    return None


def run(args: argparse.Namespace) -> int:
    for package in ("torch", "onnx", "onnxslim"):
        _require(package)
    # need torch: imported only now
    from export.checkpoint import load_checkpoint
    from export.onnx_export import check_not_input, export_onnx

    output = Path(args.output) if args.output else default_output(args.checkpoint, args.fp16)
    check_not_input(args.checkpoint, output)
    start = time.perf_counter()
    model, info = load_checkpoint(args.checkpoint, arch=args.arch)
    input_size = args.input_size
    if input_size is None:
        trained = trained_input_size(args.checkpoint, info.arch)
        if trained is not None:
            input_size = trained[0]
            print(f"input size {input_size}, from {trained[1]}")
    info = export_onnx(model, output, info, static_size=args.static, batch=args.batch,
                       fp16=args.fp16, with_scales=args.with_scales, opset=args.opset,
                       input_size=input_size)
    height, width = args.static or ("H", "W")
    shape = f"{args.batch or 'N'}x3x{height}x{width}"
    kind = "SWAHR" if info.has_scale_heads else "HigherHRNet"
    print(f"wrote {output}: {info.arch} {kind}, {info.num_joints} joints ({info.dataset}), "
          f"{info.precision}, image {shape}, {time.perf_counter() - start:.1f} s")
    return 0
