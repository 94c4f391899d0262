"""NVIDIA ``trtexec``: the exact command line for a model, running it, parsing its summary.

trtexec is the reference way to time a TensorRT engine.  We print the command for the model's
dynamic shapes (profiles from its metadata) following the version rules of
:mod:`swahr_infer.trt_compat`, run it when it is on PATH, and turn its "Performance summary"
into the same JSON layout as our own benchmarks (``{"metrics": {name: {"median_ms": ...}}}``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Dict, List, Optional, Sequence

from .errors import ToolError
from .trt_compat import (Shape, default_profile, fit_profile, format_shape, is_static,
                         parse_version, precision_plan)

_PREFIX = re.compile(r"^(?:\[[^\]]*\]\s*)*")  # "[10/03/2024-10:47:59] [I] "
_STAT = re.compile(r"(min|max|mean|median|percentile\((\d+(?:\.\d+)?)%\))\s*=?\s*"
                   r"([-+0-9.eE]+)\s*(ms|s|us)\b")
_THROUGHPUT = re.compile(r"^Throughput:\s*([-+0-9.eE]+)\s*qps")
_TOTAL = re.compile(r"^(Total Host Walltime|Total GPU Compute Time):\s*([-+0-9.eE]+)\s*s\b")
_BANNER = re.compile(r"TensorRT\.trtexec \[TensorRT (v\d+)\]")
_UNIT_MS = {"ms": 1.0, "s": 1000.0, "us": 1e-3}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def parse_summary(text: str) -> Dict:
    """Parse the "=== Performance summary ===" block of trtexec's log.

    Returns ``{"throughput_qps": float, "metrics": {"latency": {"min_ms", "max_ms",
    "mean_ms", "median_ms", "p90_ms", "p95_ms", "p99_ms"}, "gpu_compute_time": ..., ...},
    "total_host_walltime_s": float, "total_gpu_compute_time_s": float,
    "tensorrt_version": "10.2"}``; keys are present only when the log has them (older
    versions print fewer percentiles).  Raises ValueError if no summary is found.
    """
    start = text.rfind("=== Performance summary ===")
    if start < 0:
        raise ValueError("no '=== Performance summary ===' in trtexec output")
    result: Dict = {"metrics": {}}
    banner = _BANNER.search(text)
    if banner:
        result["tensorrt_version"] = "%d.%d" % parse_version(banner.group(1))
    for raw in text[start:].splitlines():
        line = _PREFIX.sub("", raw).strip()
        if (m := _THROUGHPUT.match(line)):
            result["throughput_qps"] = float(m.group(1))
        elif (m := _TOTAL.match(line)):
            result[_key(m.group(1)) + "_s"] = float(m.group(2))
        else:
            name, _, stats = line.partition(":")
            values = {}
            for stat in _STAT.finditer(stats):
                pct = stat.group(2)
                label = f"p{float(pct):g}" if pct else stat.group(1)
                values[f"{label}_ms"] = float(stat.group(3)) * _UNIT_MS[stat.group(4)]
            if values:
                result["metrics"][_key(name)] = values
    if not result["metrics"] and "throughput_qps" not in result:
        raise ValueError("trtexec performance summary has no metrics")
    return result


def build_command(onnx_path: str, *, input_name: str = "image", input_size: int = 512,
                  size_divisor: int = 32, trt_version: str = "10.0", fp16: bool = False,
                  onnx_precision: str = "fp32", shapes: Optional[Sequence[Shape]] = None,
                  engine_path: Optional[str] = None, timing_cache: Optional[str] = None,
                  cuda_graph: bool = True, extra: Sequence[str] = (),
                  input_shape: Sequence[Optional[int]] = (None, 3, None, None)) -> List[str]:
    """The trtexec argv for one model.

    ``shapes`` is (min, opt, max) NCHW; by default :func:`default_profile`, with the fixed
    dimensions of ``input_shape`` (an ``export --static`` / ``--batch`` model; None: dynamic)
    pinned.  A fully static input gets no shape flags: trtexec refuses them for a static model.
    The timing runs use the ``opt`` shape.  Precision flags follow :func:`precision_plan`:
    ``--fp16`` only before TensorRT 11, ``--stronglyTyped`` for FP16 ONNX on 10.x.
    """
    version = parse_version(trt_version)
    plan = precision_plan(version, fp16=fp16, onnx_precision=onnx_precision)
    mn, opt, mx = fit_profile(shapes or default_profile(input_size, size_divisor), input_shape)
    argv = ["trtexec", f"--onnx={onnx_path}"]
    if not is_static(input_shape):
        argv += [f"--minShapes={input_name}:{format_shape(mn)}",
                 f"--optShapes={input_name}:{format_shape(opt)}",
                 f"--maxShapes={input_name}:{format_shape(mx)}",
                 f"--shapes={input_name}:{format_shape(opt)}"]
    argv += plan.trtexec_flags
    if engine_path:
        argv.append(f"--saveEngine={engine_path}")
    if timing_cache:
        argv.append(f"--timingCacheFile={timing_cache}")
    if cuda_graph:
        argv.append("--useCudaGraph")
    argv += ["--noDataTransfers", *extra]
    return argv


def installed_version(executable: str = "trtexec") -> Optional[str]:
    """TensorRT version of the trtexec on PATH (from its banner), or None if there is none."""
    path = shutil.which(executable)
    if not path:
        return None
    proc = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=60)
    match = _BANNER.search(proc.stdout + proc.stderr)
    return "%d.%d" % parse_version(match.group(1)) if match else None


def run(argv: Sequence[str], timeout: float = 3600) -> Dict:
    """Run trtexec and parse its summary; raises :class:`~swahr_infer.errors.ToolError` (a
    RuntimeError) with its log's tail when it fails."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        tail = "\n".join(log.splitlines()[-20:])
        raise ToolError(f"trtexec failed with exit code {proc.returncode}:\n{tail}")
    return parse_summary(log)
