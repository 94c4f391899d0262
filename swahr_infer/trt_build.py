"""Build TensorRT engines from exported ONNX models (TensorRT 8.6, 10.x, 11.x).

Thin on purpose: NVIDIA's documented Python build sequence (Logger -> Builder ->
create_network -> OnnxParser -> builder config with workspace, optimisation profile and timing
cache -> build_serialized_network), with the version differences kept in
:mod:`swahr_infer.trt_compat`.  Engines are plain TensorRT plans, loadable by trtexec, Triton
and DeepStream; what the runtime needs (our ModelInfo, the TensorRT version and the GPU the plan
was built for) lives in a JSON sidecar ``<engine>.json`` checked at load time.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from .atomic_file import write_bytes
from .errors import MissingDependencyError, ModelError, OptionError
from .metadata import INPUT_NAME, ModelInfo, read_onnx_props
from .trt_compat import (Shape, default_profile, fit_profile, format_shape, is_static,
                         parse_version, precision_plan, release)

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".json"


#: how to get TensorRT's Python package: no extra of ours provides it (the `gpu` extra is CuPy
#: only); NVIDIA publishes wheels on PyPI for x86-64, and on a Jetson the bindings come with
#: JetPack, not from PyPI (docs/gpu.md, "Jetson")
TENSORRT_INSTALL = ("on x86-64 with an NVIDIA driver: pip install tensorrt (NVIDIA's wheels); "
                    "on a Jetson it comes with JetPack (use the system Python or a venv with "
                    "--system-site-packages)")


def import_tensorrt():
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise MissingDependencyError("tensorrt (NVIDIA TensorRT 8.6 / 10.x / 11.x)", "",
                                     "TensorRT engines", install=TENSORRT_INSTALL) from exc
    return trt


def gpu_identity() -> Dict[str, str]:
    """Name and compute capability of the current CUDA device (via CuPy)."""
    try:
        import cupy
    except ImportError as exc:
        raise MissingDependencyError("cupy", "gpu", "TensorRT engines") from exc
    dev = cupy.cuda.Device()
    props = cupy.cuda.runtime.getDeviceProperties(dev.id)
    name = props["name"]
    return {"gpu": name.decode() if isinstance(name, bytes) else str(name),
            "compute_capability": "%d.%d" % (props["major"], props["minor"])}


@dataclass(frozen=True)
class BuildOptions:
    fp16: bool = False
    shapes: Optional[Tuple[Shape, Shape, Shape]] = None  # (min, opt, max) NCHW
    workspace_mb: int = 4096
    timing_cache: Optional[str] = None


def _network_flags(trt, strongly_typed: bool, major: int) -> int:
    flags = 0
    if major < 10:  # explicit batch is implicit (and the flag deprecated) from 10.0 on
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    if strongly_typed:
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    return flags


def _parse_onnx(trt, network, logger, onnx_path: str) -> None:
    parser = trt.OnnxParser(network, logger)
    with open(onnx_path, "rb") as fh:
        ok = parser.parse(fh.read())
    if not ok:
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise ModelError(f"TensorRT cannot parse {onnx_path}: " + "; ".join(errors[:5]))


def _load_timing_cache(config, path: Optional[str]):
    """The timing cache at ``path`` (or an empty one), attached to ``config``.  A file TensorRT
    cannot read (corrupt, or from another GPU or version: ``set_timing_cache`` refuses a
    mismatch) is replaced by a fresh cache, with a warning, and overwritten after the build,
    rather than failing the build or being written back unchanged forever."""
    data = b""
    if path and os.path.exists(path):
        with open(path, "rb") as fh:
            data = fh.read()
    cache = config.create_timing_cache(data)
    if data and (cache is None or not config.set_timing_cache(cache, ignore_mismatch=False)):
        log.warning("timing cache %s is unreadable or from another GPU / TensorRT: starting a "
                    "new one (the file is replaced after the build)", path)
        cache = None
    if cache is None:
        cache = config.create_timing_cache(b"")
        if cache is None or not config.set_timing_cache(cache, ignore_mismatch=False):
            raise ModelError("TensorRT could not create a timing cache")
    return cache


def _input_shape(network) -> Tuple[Optional[int], ...]:
    """The parsed network's input dims, None where dynamic (-1)."""
    return tuple(None if int(d) < 0 else int(d) for d in network.get_input(0).shape)


def build_engine(onnx_path: str, engine_path: str, options: BuildOptions = BuildOptions()
                 ) -> Dict:
    """Build ``engine_path`` (and its sidecar) from an exported ONNX model.

    Returns the sidecar dict.  Raises ModelError when TensorRT cannot parse or build the model.
    """
    trt = import_tensorrt()
    gpu = gpu_identity()  # CuPy missing: said now, not after minutes of building
    info = ModelInfo.from_props(read_onnx_props(onnx_path), source=onnx_path)
    version = parse_version(trt.__version__)
    plan = precision_plan(version, fp16=options.fp16, onnx_precision=info.precision)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(_network_flags(trt, plan.strongly_typed, version[0]))
    _parse_onnx(trt, network, logger, onnx_path)

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mb << 20)
    if plan.fp16_flag:
        config.set_flag(trt.BuilderFlag.FP16)
    fixed = _input_shape(network)
    requested = options.shapes or default_profile(info.input_size, info.size_divisor)
    mn, opt, mx = fit_profile(requested, fixed)  # --static / --batch exports: pinned
    if options.shapes and (mn, opt, mx) != tuple(map(tuple, options.shapes)):
        raise OptionError(f"{onnx_path} has fixed input dimensions "
                          f"({format_shape(fixed)}): the "
                          f"profile {options.shapes} must keep them")
    if not is_static(fixed):  # a static network takes no optimisation profile
        profile = builder.create_optimization_profile()
        profile.set_shape(INPUT_NAME, mn, opt, mx)
        config.add_optimization_profile(profile)
    cache = _load_timing_cache(config, options.timing_cache)

    log.info("building %s (TensorRT %s, %s)", engine_path, trt.__version__, plan)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelError(f"TensorRT failed to build an engine from {onnx_path} (see its log)")
    write_bytes(engine_path, bytes(serialized))
    if options.timing_cache:
        write_bytes(options.timing_cache, bytes(cache.serialize()))
    sidecar = {
        "model": info.to_props(),
        "tensorrt_version": trt.__version__,
        "precision": "fp16" if (plan.fp16_flag or info.precision == "fp16") else "fp32",
        "profile": {"min": list(mn), "opt": list(opt), "max": list(mx)},
        **gpu,
    }
    write_bytes(engine_path + SIDECAR_SUFFIX, json.dumps(sidecar, indent=2).encode())
    return sidecar


def read_sidecar(engine_path: str) -> Dict:
    """The sidecar of an engine; ModelError if it is missing or unreadable."""
    path = engine_path + SIDECAR_SUFFIX
    if not os.path.exists(path):
        raise ModelError(
            f"{engine_path} has no metadata sidecar {os.path.basename(path)}: build engines "
            "with `swahr-infer build model.onnx -o model.engine` and keep the two files together")
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path} is not a readable swahr-infer engine sidecar: {exc}") from exc


def check_compatible(sidecar: Dict, trt_version: str, gpu: Dict[str, str], source: str) -> None:
    """Engines are tied to the TensorRT version and GPU they were built with: say so clearly."""
    built = sidecar.get("tensorrt_version")
    try:
        plan_release = release(built)
    except ValueError:
        raise ModelError(f"{source}{SIDECAR_SUFFIX} names no TensorRT version ({built!r}): "
                         "rebuild the engine with `swahr-infer build`") from None
    # a plan loads only in the release it was built with (major.minor.patch), not another patch
    if plan_release != release(trt_version):
        raise ModelError(
            f"{source} was built with TensorRT {built} but TensorRT {trt_version} is installed: "
            "rebuild it with `swahr-infer build`")
    if sidecar.get("compute_capability") != gpu.get("compute_capability"):
        raise ModelError(
            f"{source} was built for {sidecar.get('gpu')} (sm {sidecar.get('compute_capability')})"
            f" but this GPU is {gpu.get('gpu')} (sm {gpu.get('compute_capability')}): rebuild it "
            "on this GPU with `swahr-infer build`")
