"""Print the trtexec command that times a model; with --run, also run it and parse its summary.

The optimisation profile comes from the model's metadata (input size) unless --min/--opt/--max
are given (all three; C is 3, H and W multiples of 32, and min <= opt <= max); precision flags
follow the TensorRT version (--fp16 before 11.x, --stronglyTyped for an FP16 ONNX on 10.x,
neither on 11.x).  Without --run the command is only printed.  --run needs trtexec on PATH
(it ships with TensorRT: the tar / deb packages, or JetPack, at /usr/src/tensorrt/bin/trtexec);
its summary is then printed as JSON, and with --json also written to that file.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from ..atomic_file import write_output
from .args import check_output_file, check_profile, profile_shape

HELP = "print (and with --run, run) the trtexec command for a model and parse its timing summary"

#: where trtexec comes from: it is part of TensorRT, not a pip package of ours
TRTEXEC_INSTALL = ("it ships with NVIDIA TensorRT (the tar or deb packages, or JetPack on a "
                   "Jetson, at /usr/src/tensorrt/bin/trtexec): put its folder on PATH")


def add_arguments(p) -> None:
    p.add_argument("model", help="exported .onnx model")
    p.add_argument("--fp16", action="store_true", help="time an FP16 engine")
    p.add_argument("--trt-version", default=None,
                   help="TensorRT version the command is for, e.g. 10.3 (default: the trtexec "
                        "on PATH, else 10.0)")
    p.add_argument("--min", dest="min_shape", type=profile_shape,
                   help="NxCxHxW, e.g. 1x3x256x256 (with --opt and --max)")
    p.add_argument("--opt", dest="opt_shape", type=profile_shape,
                   help="NxCxHxW, e.g. 2x3x512x768 (with --min and --max)")
    p.add_argument("--max", dest="max_shape", type=profile_shape,
                   help="NxCxHxW, e.g. 2x3x1024x1024 (with --min and --opt)")
    p.add_argument("--save-engine", default=None, help="also write the engine here")
    p.add_argument("--timing-cache", default=None, help="timing cache file to reuse")
    p.add_argument("--run", action="store_true",
                   help="run the command, not only print it (needs trtexec on PATH)")
    p.add_argument("--json", type=Path, default=None,
                   help="with --run: write the parsed summary to this file")


def _check_options(args) -> None:
    """Refuse what would print a command trtexec rejects, or silently do nothing: a version
    that is not one, an incomplete or unordered profile, --json without --run."""
    from ..errors import OptionError
    from ..trt_compat import parse_version

    if args.trt_version is not None:
        try:
            parse_version(args.trt_version)
        except ValueError:
            raise OptionError(f"--trt-version {args.trt_version!r}: not a TensorRT version; "
                              "write it like 10.3 or 8.6.1") from None
    given = [s is not None for s in (args.min_shape, args.opt_shape, args.max_shape)]
    if any(given) and not all(given):
        raise OptionError("--min, --opt and --max go together: give all three or none")
    if all(given):
        check_profile((args.min_shape, args.opt_shape, args.max_shape))
    if args.json is not None:
        if not args.run:
            raise OptionError("--json needs --run (the summary it writes comes from running "
                              "trtexec)")
        check_output_file(args.json, "--json")  # before the run, not after it


def _check_fixed_dims(args, input_shape) -> None:
    """A profile shape that differs from the model in a dimension it fixed (``export --static``
    / ``--batch``) is refused: trtexec and TensorRT take no range over a fixed dimension."""
    from ..errors import OptionError
    from ..trt_compat import format_shape

    for option, shape in (("--min", args.min_shape), ("--opt", args.opt_shape),
                          ("--max", args.max_shape)):
        if shape is None:
            continue
        if any(f is not None and f != v for f, v in zip(input_shape, shape)):
            fixed = format_shape(input_shape)
            raise OptionError(f"{option} {format_shape(shape)}: {args.model} has fixed "
                              f"input dimensions ({fixed}, ? = dynamic) that the profile must "
                              "keep")


def run(args) -> int:
    from .. import trtexec
    from ..errors import MissingDependencyError
    from ..metadata import INPUT_NAME, ModelInfo, read_onnx_model

    _check_options(args)
    props, input_shape = read_onnx_model(args.model)
    info = ModelInfo.from_props(props, source=args.model)
    _check_fixed_dims(args, input_shape)
    installed = trtexec.installed_version()
    version = args.trt_version or installed or "10.0"
    shapes = None
    if args.min_shape:
        shapes = (args.min_shape, args.opt_shape, args.max_shape)
    argv = trtexec.build_command(
        args.model, input_name=INPUT_NAME, input_size=info.input_size,
        size_divisor=info.size_divisor, trt_version=version, fp16=args.fp16,
        onnx_precision=info.precision, shapes=shapes, engine_path=args.save_engine,
        timing_cache=args.timing_cache, input_shape=input_shape)
    print(f"# TensorRT {version}" + ("" if installed else " (trtexec not on PATH; "
                                         "use --trt-version to target another version)"))
    print(shlex.join(argv))
    if not args.run:
        return 0
    if not installed:
        raise MissingDependencyError("trtexec (NVIDIA TensorRT)", "", "--run",
                                     install=TRTEXEC_INSTALL)
    summary = trtexec.run(argv)
    summary.update(model=args.model, command=argv)
    text = json.dumps(summary, indent=2)
    if args.json is not None:
        write_output(args.json, text + "\n")
    print(text, file=sys.stdout)
    return 0
