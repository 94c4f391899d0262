"""Print (and, when trtexec is on PATH, run) the trtexec command that times a model.

The optimisation profile comes from the model's metadata (input size) unless --min/--opt/--max
are given; precision flags follow the TensorRT version (--fp16 before 11.x, --stronglyTyped for
an FP16 ONNX on 10.x, neither on 11.x).  With --run the summary is parsed into JSON.
"""

from __future__ import annotations

import json
import shlex
import sys

from .args import dims

HELP = "print / run the trtexec command for a model and parse its timing summary"


def add_arguments(p) -> None:
    p.add_argument("model", help="exported .onnx model")
    p.add_argument("--fp16", action="store_true", help="time an FP16 engine")
    p.add_argument("--trt-version", default=None,
                   help="TensorRT version the command is for (default: the trtexec on PATH, else 10.0)")
    p.add_argument("--min", dest="min_shape", type=dims("NxCxHxW"), help="NxCxHxW, e.g. 1x3x256x256")
    p.add_argument("--opt", dest="opt_shape", type=dims("NxCxHxW"), help="NxCxHxW, e.g. 2x3x512x768")
    p.add_argument("--max", dest="max_shape", type=dims("NxCxHxW"), help="NxCxHxW, e.g. 2x3x1024x1024")
    p.add_argument("--save-engine", default=None, help="also write the engine here")
    p.add_argument("--timing-cache", default=None, help="timing cache file to reuse")
    p.add_argument("--run", action="store_true", help="run it (needs trtexec on PATH)")
    p.add_argument("--json", default=None, help="write the parsed summary to this file")


def run(args) -> int:
    from .. import trtexec
    from ..errors import MissingDependencyError
    from ..metadata import INPUT_NAME, ModelInfo, read_onnx_props

    info = ModelInfo.from_props(read_onnx_props(args.model), source=args.model)
    installed = trtexec.installed_version()
    version = args.trt_version or installed or "10.0"
    shapes = None
    if args.min_shape or args.opt_shape or args.max_shape:
        if not (args.min_shape and args.opt_shape and args.max_shape):
            raise ValueError("--min, --opt and --max go together")
        shapes = (args.min_shape, args.opt_shape, args.max_shape)
    argv = trtexec.build_command(
        args.model, input_name=INPUT_NAME, input_size=info.input_size,
        size_divisor=info.size_divisor, trt_version=version, fp16=args.fp16,
        onnx_precision=info.precision, shapes=shapes, engine_path=args.save_engine,
        timing_cache=args.timing_cache)
    print(f"# TensorRT {version}" + ("" if installed else " (trtexec not on PATH; "
                                         "use --trt-version to target another version)"))
    print(shlex.join(argv))
    if not args.run:
        return 0
    if not installed:
        raise MissingDependencyError("trtexec (NVIDIA TensorRT)", "gpu", "--run")
    summary = trtexec.run(argv)
    summary.update(model=args.model, command=argv)
    text = json.dumps(summary, indent=2)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text + "\n")
    print(text, file=sys.stdout)
    return 0
