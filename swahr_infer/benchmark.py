"""Measuring the pipeline's speed: warm-up, median and p90 per stage, images/s, peak memory.

Shared by ``swahr-infer bench`` and the scripts in ``benchmarks/`` so that every number the
project reports is taken the same way:

* ``warmup`` calls first (ONNX Runtime plans its kernels and allocates its arenas on the first
  runs; the fusion workspace is allocated on the first image), then ``runs`` timed calls;
* per stage, the median and the 90th percentile (numpy's linear interpolation) in
  milliseconds, from :attr:`Estimator.last_timings <swahr_infer.estimator.Estimator>`;
* images per second = 1000 / median total milliseconds (a median, not a mean: the machines we
  measure on are often shared, and one descheduled run should not move the figure);
* memory: the process's peak resident set (``getrusage`` ``ru_maxrss``, which covers ONNX
  Runtime's own allocations but never goes down, so it is the peak of the whole process so far)
  and the peak of Python/numpy allocations during one extra, untimed call (``tracemalloc``; it
  slows allocation down, so it never runs during the timed calls).

Nothing here imports torch: :func:`random_model` imports the exporter only when it has to
write a model that is not in the cache yet.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .atomic_file import replacing, write_bytes, write_text
from .errors import MissingDependencyError

log = logging.getLogger(__name__)

# the stages of Estimator.last_timings, in pipeline order ("load" is the image decode)
STAGES = ("load", "preprocess", "inference", "fusion", "decode", "postprocess", "total")


# -- statistics ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Summary:
    """Order statistics of one quantity over the timed runs (milliseconds, or any unit)."""

    n: int
    median: float
    p90: float
    mean: float
    min: float
    max: float

    def to_dict(self, unit: str = "ms") -> Dict[str, float]:
        suffix = f"_{unit}" if unit else ""
        return {"n": self.n, **{f"{key}{suffix}": round(float(getattr(self, key)), 4)
                                for key in ("median", "p90", "mean", "min", "max")}}


def summarize(samples: Sequence[float]) -> Summary:
    """Median, 90th percentile (linear interpolation between order statistics), mean, min, max.

    Args:
        samples: at least one finite number.

    >>> summarize([1, 2, 3, 4]).p90   # 3 + 0.7 * (4 - 3)
    3.7
    """
    values = np.asarray(list(samples), dtype=np.float64)
    if values.size == 0:
        raise ValueError("summarize needs at least one sample")
    if not np.all(np.isfinite(values)):
        raise ValueError("summarize got a non-finite sample")
    return Summary(n=int(values.size), median=float(np.median(values)),
                   p90=float(np.percentile(values, 90)), mean=float(values.mean()),
                   min=float(values.min()), max=float(values.max()))


def images_per_second(total_ms: Summary) -> float:
    """Throughput of one stream of images from the median total latency."""
    return 1000.0 / total_ms.median if total_ms.median > 0 else float("inf")


# -- memory -------------------------------------------------------------------------------------

def rss_peak_mb() -> Optional[float]:
    """Peak resident set size of this process so far, in MiB (None where not available)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def traced_peak_mb(fn: Callable[[], object]) -> float:
    """Peak MiB of Python and numpy allocations made while ``fn()`` runs (``tracemalloc``).

    Allocations made by native libraries that bypass Python's allocator (ONNX Runtime's arena,
    OpenCV's buffers) are not seen; :func:`rss_peak_mb` covers those.
    """
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return max(peak - base, 0) / 2**20


# -- timing -------------------------------------------------------------------------------------

def time_calls(fn: Callable[[], Optional[Mapping[str, float]]], runs: int, warmup: int = 1
               ) -> Dict[str, List[float]]:
    """Call ``fn`` ``warmup`` times untimed, then ``runs`` times; milliseconds per call.

    ``fn`` may return a mapping of stage name -> milliseconds (as
    :attr:`Estimator.last_timings <swahr_infer.estimator.Estimator>`); those are collected
    too.  The wall-clock time of each call is under ``"wall"``.

    Returns:
        {name: [runs values]} for ``"wall"`` and every numeric key ``fn`` returned.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    if warmup < 0:
        raise ValueError(f"warmup must not be negative, got {warmup}")
    for _ in range(warmup):
        fn()
    samples: Dict[str, List[float]] = {"wall": []}
    for _ in range(runs):
        start = time.perf_counter()
        stages = fn()
        samples["wall"].append((time.perf_counter() - start) * 1e3)
        for name, value in (stages or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                samples.setdefault(name, []).append(float(value))
    return samples


@dataclass
class Latency:
    """What :func:`measure` found for one estimator on one image."""

    stages: Dict[str, Summary]          # ms per stage of STAGES, plus "wall"
    images_per_s: float
    people: int                          # persons found in the last timed call
    rss_peak_mb: Optional[float] = None
    traced_peak_mb: Optional[float] = None
    runs: int = 0
    warmup: int = 0
    config: Dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, object]:
        return {
            "config": dict(self.config),
            "runs": self.runs, "warmup": self.warmup,
            "stages": {name: s.to_dict() for name, s in self.stages.items()},
            "images_per_s": round(self.images_per_s, 4),
            "people": self.people,
            "memory": {"rss_peak_mb": _round(self.rss_peak_mb),
                       "traced_peak_mb": _round(self.traced_peak_mb)},
        }

    def median(self, stage: str) -> float:
        return self.stages[stage].median


def _round(value: Optional[float], digits: int = 1) -> Optional[float]:
    return None if value is None else round(float(value), digits)


def measure(estimator, image, *, runs: int = 10, warmup: int = 2, memory: bool = True,
            config: Optional[Mapping[str, object]] = None) -> Latency:
    """Time ``estimator.predict(image)`` stage by stage.

    Args:
        estimator: a :class:`~swahr_infer.estimator.Estimator` (anything with ``predict`` and
            ``last_timings``).
        image: what ``predict`` takes; pass a file path for the ``load`` stage to include the
            image decode.
        runs, warmup: timed and untimed calls.
        memory: add one untimed call under ``tracemalloc`` and read the process's peak RSS.
        config: free-form description stored with the result (model, image, options).
    """
    found = [0]

    def call() -> Dict[str, float]:
        found[0] = len(estimator.predict(image))
        return dict(estimator.last_timings)

    samples = time_calls(call, runs=runs, warmup=warmup)
    stages = {name: summarize(samples[name]) for name in STAGES + ("wall",) if name in samples}
    traced = traced_peak_mb(lambda: estimator.predict(image)) if memory else None
    return Latency(stages=stages, images_per_s=images_per_second(stages["total"]),
                   people=found[0], rss_peak_mb=rss_peak_mb() if memory else None,
                   traced_peak_mb=traced, runs=runs, warmup=warmup, config=dict(config or {}))


def describe(estimator, image_hw: Optional[Tuple[int, int]] = None) -> Dict[str, object]:
    """The settings of ``estimator`` that decide its speed, as JSON-ready values."""
    from .preprocess import plan_scales

    backend = estimator.backend
    out: Dict[str, object] = {
        "arch": estimator.info.arch, "precision": estimator.info.precision,
        "input_size": estimator.input_size, "scales": list(estimator.scales),
        "flip": estimator.flip, "backend": type(backend).__name__,
        "providers": list(getattr(backend, "providers", ()) or ()),
    }
    if getattr(backend, "path", None) is not None:
        out["model"] = str(backend.path)
    if image_hw is not None:
        plan = plan_scales(tuple(image_hw), estimator.input_size, estimator.scales)
        batch = 2 if estimator.flip else 1
        out["image_size"] = [int(image_hw[1]), int(image_hw[0])]
        out["network_inputs"] = [f"{batch}x3x{g.size[1]}x{g.size[0]}" for g in plan[0]]
    return out


# -- inputs: random-weight models and synthetic images ----------------------------------------

def default_cache_dir() -> Path:
    """Where random-weight models and synthetic images are kept between runs."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "swahr-infer" / "bench"


def random_checkpoint(arch: str, cache_dir: Union[str, Path], *, seed: int = 0) -> Path:
    """A PyTorch state dict of ``arch`` with PyTorch's default initialisation (seeded).

    This is what the official code does at test time without a model file (its weights are
    initialised only for training), so both pipelines can load the very same weights.  The
    file is written once per (arch, seed) and reused.  Needs torch.
    """
    path = Path(cache_dir) / f"{arch}_seed{seed}.pth"
    if path.is_file():
        return path
    torch = _import_torch()
    from export.model import build_model

    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = build_model(arch).eval()
    finally:
        torch.random.set_rng_state(generator_state)
    with replacing(path) as temporary:
        torch.save(model.state_dict(), temporary)
    return path


def random_model(arch: str, cache_dir: Union[str, Path], *, fp16: bool = False, seed: int = 0,
                 say: Optional[Callable[[str], None]] = None) -> Path:
    """An ONNX model of ``arch`` with random weights (:func:`random_checkpoint`), cached.

    ``say`` is told before the export, which takes a while (a W48 export: a minute on a small
    CPU): the CLI prints it, so that the first run is not silent; by default it is logged.

    Random weights make noise heatmaps: up to ``max_num_people`` (30) low-score "people" per
    image with many tag ties, the decoder's worst case, which is what a latency benchmark
    should see.  The export (BN folding, onnxslim, checks) happens once per (arch, seed,
    precision); later calls return the cached file without importing torch.
    """
    from . import __version__

    precision = "fp16" if fp16 else "fp32"
    path = Path(cache_dir) / f"{arch}_seed{seed}_{precision}_v{__version__}.onnx"
    if path.is_file():
        return path
    checkpoint = random_checkpoint(arch, cache_dir, seed=seed)
    _import_torch()
    from export.onnx_export import export_checkpoint

    message = f"exporting a random-weight {arch} model ({precision}) to {path} (once)"
    if say is not None:
        say(message)
    else:
        log.info(message)
    export_checkpoint(checkpoint, path, arch=arch, fp16=fp16)
    return path


def _import_torch():
    try:
        import torch
    except ImportError:
        raise MissingDependencyError("torch", "export",
                                     "exporting a random-weight model to benchmark") from None
    return torch


def synthetic_image(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A natural-looking test picture, [height, width, 3] uint8 BGR.

    Smooth colour gradients, a few soft blobs and mild noise: JPEG-compresses and decodes like
    a photo (pure noise would make the decode stage unrealistically slow, a flat image
    unrealistically fast).
    """
    if width < 2 or height < 2:
        raise ValueError(f"image must be at least 2x2, got {width}x{height}")
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = xs / width, ys / height
    image = np.stack([80 + 100 * u, 60 + 120 * v, 140 - 60 * u * v], axis=-1)
    for _ in range(12):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        sigma = rng.uniform(0.03, 0.12) * min(width, height)
        blob = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma ** 2))
        image += blob[..., None] * rng.uniform(-80, 80, 3).astype(np.float32)
    image += rng.normal(0, 6, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).round().astype(np.uint8)


def synthetic_image_file(width: int, height: int, cache_dir: Union[str, Path], seed: int = 0
                         ) -> Path:
    """:func:`synthetic_image` written once as a JPEG (quality 90) under ``cache_dir``."""
    import cv2

    path = Path(cache_dir) / f"synthetic_{width}x{height}_seed{seed}.jpg"
    if not path.is_file():
        ok, data = cv2.imencode(".jpg", synthetic_image(width, height, seed),
                                [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:  # pragma: no cover - OpenCV without a JPEG codec
            raise RuntimeError("OpenCV cannot encode JPEG")
        write_bytes(path, data.tobytes())
    return path


# -- agreement between two runs -----------------------------------------------------------------

def pose_agreement(first: np.ndarray, second: np.ndarray, tolerance_px: float = 1.0
                   ) -> Dict[str, object]:
    """How far two sets of poses of one image agree (e.g. two engines, or two pipelines).

    Person ``i`` of ``first`` and ``j`` of ``second`` are compared on the joints found (score
    > 0) in both; a pair whose sets of found joints differ never matches.  Persons are paired
    one-to-one by the smallest largest-joint distance (Hungarian assignment), so a change of
    order alone does not count as disagreement.

    Args:
        first, second: [N, K, 3] and [M, K, 3] keypoints (x, y, score), image pixels.
        tolerance_px: largest joint distance for a pair to count as the same person.

    Returns:
        ``people`` [N, M]; ``matched`` (pairs within tolerance) and ``share_matched``
        (matched / max(N, M), 1.0 when both are empty); ``max_px_diff`` over the paired
        persons with the same found joints (None if there are none); ``same_order`` (N == M
        and person i of one is person i of the other, within tolerance).
    """
    from scipy.optimize import linear_sum_assignment

    a, b = np.asarray(first, np.float64), np.asarray(second, np.float64)
    if a.ndim != 3 or b.ndim != 3 or a.shape[2] != 3 or b.shape[2] != 3:
        raise ValueError(f"expected [N, K, 3] keypoints, got {a.shape} and {b.shape}")
    n, m = len(a), len(b)
    out: Dict[str, object] = {"people": [n, m], "matched": 0, "share_matched": 1.0,
                              "max_px_diff": None, "same_order": n == m}
    if n == 0 or m == 0:
        out["share_matched"] = 1.0 if n == m else 0.0
        return out
    found_a, found_b = a[..., 2] > 0, b[..., 2] > 0                      # [N, K], [M, K]
    same_joints = np.all(found_a[:, None] == found_b[None], axis=-1)      # [N, M]
    dist = np.linalg.norm(a[:, None, :, :2] - b[None, :, :, :2], axis=-1)  # [N, M, K]
    dist = np.where(found_a[:, None] & found_b[None], dist, 0.0).max(axis=-1)
    dist = np.where(same_joints, dist, np.inf)
    rows, cols = linear_sum_assignment(np.minimum(dist, 1e12))
    paired = dist[rows, cols]
    finite = paired[np.isfinite(paired)]
    matched = int(np.sum(paired <= tolerance_px))
    out.update(matched=matched, share_matched=matched / max(n, m),
               max_px_diff=round(float(finite.max()), 6) if finite.size else None,
               same_order=bool(n == m and np.all(np.diag(dist) <= tolerance_px)))
    return out


# -- reporting ----------------------------------------------------------------------------------

def machine_info() -> Dict[str, object]:
    """The machine and library versions a measurement was taken with."""
    info: Dict[str, object] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
        info["onnxruntime_providers"] = onnxruntime.get_available_providers()
    except ImportError:  # pragma: no cover - a core dependency
        pass
    try:
        import cv2

        info["opencv"] = cv2.__version__
    except ImportError:  # pragma: no cover - a core dependency
        pass
    if hasattr(os, "getloadavg"):
        info["loadavg"] = [round(v, 2) for v in os.getloadavg()]
    torch = sys.modules.get("torch")  # only reported when something else needed it
    if getattr(torch, "__version__", None):
        info["torch"] = torch.__version__
    info["time"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return info


def format_table(rows: Sequence[Mapping[str, object]], columns: Sequence[str],
                 headers: Optional[Sequence[str]] = None) -> str:
    """A plain-text table: one line per row, right-aligned columns; floats with 3 significant
    digits at least (milliseconds below 10 keep two decimals)."""
    headers = list(headers or columns)

    def cell(value) -> str:
        if isinstance(value, bool) or value is None:
            return "-" if value is None else str(value)
        if isinstance(value, float):
            if value != value:  # NaN
                return "-"
            return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}" if abs(value) < 1e4 \
                else f"{value:.0f}"
        return str(value)

    table = [headers] + [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(headers))]
    lines = ["  ".join(text.rjust(w) for text, w in zip(line, widths)) for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(path: Union[str, Path], payload: Mapping[str, object]) -> Path:
    """Write ``payload`` as indented JSON (creating folders), atomically.

    The partial file is removed when the write or the rename fails (``path`` a folder, a full
    disk, a value that is not JSON), so a failed write leaves nothing behind.
    """
    return write_text(path, json.dumps(payload, indent=2, default=_json_default) + "\n")


def _json_default(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Summary):
        return asdict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
