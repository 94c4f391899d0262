"""Build a TensorRT engine from an exported ONNX model (needs NVIDIA TensorRT and a GPU).

FP16 follows the installed TensorRT: on 8.6 / 10.x an FP32 ONNX is built with the FP16 builder
flag; an FP16 ONNX (`swahr-infer export --fp16`) is built strongly typed on 10.x and 11.x, where
11.x has no FP16 flag at all.  The optimisation profile covers dynamic height/width and batch 2
(image + flipped image); dimensions a model was exported with fixed (--static, --batch) stay
fixed, and a fully static model gets no profile.  A JSON sidecar <engine>.json records the
model metadata, TensorRT version and GPU, checked when the engine is loaded.
"""

from __future__ import annotations

from .args import SIZE_MULTIPLE, check_output_file, check_profile, dims, int_at_least

HELP = "build a TensorRT engine (.engine) from an exported .onnx model"


def add_arguments(p) -> None:
    p.add_argument("model", help="exported .onnx model")
    p.add_argument("-o", "--output", required=True, help="engine file to write (.engine/.plan)")
    p.add_argument("--fp16", action="store_true", help="FP16 engine (see above)")
    p.add_argument("--min", dest="min_hw", type=dims("HxW", multiple=SIZE_MULTIPLE), help="smallest HxW (default: input_size/2)")
    p.add_argument("--opt", dest="opt_hw", type=dims("HxW", multiple=SIZE_MULTIPLE), help="HxW to tune for (default: 3:2 frame)")
    p.add_argument("--max", dest="max_hw", type=dims("HxW", multiple=SIZE_MULTIPLE), help="largest HxW (default: 2x input_size)")
    p.add_argument("--batch", type=int_at_least(1), default=None, help="max batch (default 2: the image and its flipped copy; a model exported with --batch N: N)")
    p.add_argument("--timing-cache", default=None, help="timing cache file (read and updated)")
    p.add_argument("--workspace", type=int_at_least(1), default=4096, help="builder workspace in MB (default 4096)")


def run(args) -> int:
    from ..metadata import ModelInfo, read_onnx_model
    from ..trt_build import BuildOptions, build_engine
    from ..trt_compat import default_profile, fit_profile

    check_output_file(args.output, "-o")  # before minutes of building, not after
    props, input_shape = read_onnx_model(args.model)
    info = ModelInfo.from_props(props, source=args.model)
    _check_fixed_dims(args, input_shape)
    batch = args.batch or input_shape[0] or 2
    mn, opt, mx = default_profile(info.input_size, info.size_divisor, batch=batch)
    if args.min_hw:
        mn = (1, 3, *args.min_hw)
    if args.opt_hw:
        opt = (batch, 3, *args.opt_hw)
    if args.max_hw:
        mx = (batch, 3, *args.max_hw)
    # a model exported with --static / --batch: the profile keeps its fixed dimensions
    mn, opt, mx = fit_profile((mn, opt, mx), input_shape)
    check_profile((mn, opt, mx))  # before TensorRT parses the model, not after
    opts = BuildOptions(fp16=args.fp16, shapes=(mn, opt, mx), workspace_mb=args.workspace,
                        timing_cache=args.timing_cache)
    sidecar = build_engine(args.model, args.output, opts)
    print(f"wrote {args.output} ({sidecar['precision']}, TensorRT {sidecar['tensorrt_version']},"
          f" {sidecar['gpu']})")
    return 0


def _check_fixed_dims(args, input_shape) -> None:
    """A size asked for in a dimension the model fixed (``export --static HxW`` / ``--batch
    N``) cannot be built: TensorRT takes no profile over a fixed dimension.  Said here, before
    TensorRT parses the model, rather than dropped."""
    from ..errors import OptionError
    from ..trt_compat import format_shape

    shape = format_shape(input_shape)
    if args.batch is not None and input_shape[0] is not None and args.batch != input_shape[0]:
        raise OptionError(f"--batch {args.batch}: {args.model} has its batch fixed at "
                          f"{input_shape[0]} (input {shape}); drop --batch or re-export it "
                          "without --batch")
    if input_shape[2] is not None and input_shape[3] is not None:
        for option, hw in (("--min", args.min_hw), ("--opt", args.opt_hw), ("--max", args.max_hw)):
            if hw is not None and tuple(hw) != tuple(input_shape[2:]):
                raise OptionError(f"{option} {hw[0]}x{hw[1]}: {args.model} has a fixed input of "
                                  f"{input_shape[2]}x{input_shape[3]} (input {shape}, exported "
                                  "with --static); drop --min/--opt/--max or re-export it "
                                  "without --static")
