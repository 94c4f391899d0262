#!/usr/bin/env python
"""Two configurations side by side in one process: per-stage medians, their ratio, agreement.

Pairs (--pairs; A is the baseline, B the variant; "speedup" is A's median total / B's):

  precision  fp32 vs fp16 ONNX model (same weights)
  scales     scales (1,) vs (2, 1, 0.5)
  flip       flip test on vs off
  threads    1 vs 2 inference threads (ONNX Runtime intra-op)
  cuda       ONNX Runtime CPU vs CUDA provider (skipped, saying why, without CUDA)
  official   the official SWAHR pipeline (its model class, loaded with the same weights, and
             its test-time functions, see benchmarks/official.py; needs --official-repo) vs ours

Every configuration not named by the pair uses the defaults: --arch random weights (seeded
PyTorch default initialisation), fp32, scales (1,), flip on, --threads, CPU.  After each side's
warm-up the two sides alternate call by call (A B, B A, A B, ...), so that a change of load on
a shared machine hits both alike.

Agreement of the poses of the last call of each side (see
``swahr_infer.benchmark.pose_agreement``): persons paired one-to-one by their largest joint
distance, how many are within 1 px, the largest distance.  For pairs that should give the same
maps (precision, threads, cuda, official) the largest difference of the fused heatmaps and tags
is reported too, and for ``official`` also the agreement of *our decoder on the official
maps* with the official parser: random weights make 30 noise people with tied assignment
costs, so disagreement there measures tie order, not a bug (SPEC.md "Ties"); exactness of the
decoder is tested on tie-free synthetic maps (tests/decode, benchmarks/decode_crowd.py).

    python benchmarks/compare.py --arch w32 --size 640x480 --runs 5 \
        --official-repo /tmp/swahr_official
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from swahr_infer.benchmark import (STAGES, format_table, machine_info,  # noqa: E402
                                   pose_agreement, random_checkpoint, random_model, summarize,
                                   synthetic_image_file, write_json)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CACHE = HERE / ".cache"
PAIRS = ("precision", "scales", "flip", "threads", "cuda", "official")
SAME_MAPS = ("precision", "threads", "cuda", "official")  # pairs whose maps should agree


@dataclass
class Side:
    """One configuration: ``run(path)`` gives keypoints [N, K, 3]; ``timings()`` its stages."""

    label: str
    run: Callable[[str], np.ndarray]
    timings: Callable[[], Dict[str, float]]
    maps: Callable[[str], Tuple[np.ndarray, np.ndarray]]
    close: Callable[[], None] = lambda: None
    settings: Dict[str, object] = field(default_factory=dict)
    estimator: object = None


def ours(label: str, model: Path, *, scales=(1.0,), flip=True, threads=2, device="cpu") -> Side:
    from swahr_infer import Estimator

    est = Estimator(model, scales=scales, flip=flip, threads=threads, device=device)

    def maps(path: str):
        fused, _ = est.fused_maps(path)
        return fused.heatmaps, fused.tags

    settings = {"pipeline": "swahr-infer", "model": Path(model).name,
                "precision": est.info.precision, "scales": list(est.scales), "flip": est.flip,
                "threads": threads, "providers": list(est.backend.providers)}
    return Side(label, lambda path: est.predict(path).keypoints, lambda: dict(est.last_timings),
                maps, est.close, settings, est)


def official(label: str, repo: Path, checkpoint: Path, arch: str, *, threads=2,
             input_size: Optional[int] = None) -> Side:
    from benchmarks.official import OfficialPipeline

    pipe = OfficialPipeline(repo, checkpoint, arch, threads=threads, input_size=input_size)

    def maps(path: str):
        if pipe.last_maps is None:
            pipe.predict(path)
        return pipe.last_maps

    import torch

    settings = {"pipeline": "official", "repo": str(repo), "precision": "fp32",
                "scales": [1.0], "flip": True, "threads": threads, "torch": torch.__version__}
    return Side(label, lambda path: pipe.predict(path)[0], lambda: dict(pipe.last_timings),
                maps, settings=settings)


def run_pair(name: str, a: Side, b: Side, image: str, runs: int, warmup: int) -> dict:
    """Warm both sides up, alternate timed calls, summarise, check agreement."""
    for _ in range(warmup):
        a.run(image)
        b.run(image)
    samples: Dict[str, Dict[str, List[float]]] = {"a": {}, "b": {}}
    last: Dict[str, np.ndarray] = {}
    for i in range(runs):
        order = (("a", a), ("b", b)) if i % 2 == 0 else (("b", b), ("a", a))
        for key, side in order:
            last[key] = side.run(image)
            for stage, value in side.timings().items():
                if stage in STAGES:
                    samples[key].setdefault(stage, []).append(value)
    stats = {key: {stage: summarize(v) for stage, v in samples[key].items()} for key in samples}
    row = {
        "pair": name, "a": a.label, "b": b.label, "a_settings": a.settings,
        "b_settings": b.settings, "runs": runs, "warmup": warmup,
        "a_ms": {s: v.to_dict() for s, v in stats["a"].items()},
        "b_ms": {s: v.to_dict() for s, v in stats["b"].items()},
        "ratio_b_over_a": {s: round(stats["b"][s].median / stats["a"][s].median, 4)
                           for s in stats["a"] if s in stats["b"] and stats["a"][s].median > 0},
        "speedup": round(stats["a"]["total"].median / stats["b"]["total"].median, 3),
        "agreement": pose_agreement(last["a"], last["b"]),
    }
    if name in SAME_MAPS:
        maps_a = a.maps(image)
        row["maps"] = maps_difference(maps_a, b.maps(image))
        if name == "official":
            row["our_decoder_on_official_maps"] = decoder_on_maps(b.estimator, maps_a, last["a"],
                                                                  image)
    return row


def maps_difference(first, second) -> dict:
    """Largest absolute differences of two (heatmaps, tags) pairs of one image."""
    (h1, t1), (h2, t2) = first, second
    if h1.shape != h2.shape or t1.shape != t2.shape:
        return {"shapes": [list(h1.shape), list(h2.shape)], "comparable": False}
    return {"heatmaps_max_abs": float(np.abs(h1 - h2).max()),
            "tags_max_abs": float(np.abs(t1 - t2).max()),
            "heatmaps_max": float(max(np.abs(h1).max(), np.abs(h2).max()))}


def decoder_on_maps(est, maps, reference: np.ndarray, image: str) -> dict:
    """Our decoder (``est``'s settings) on another pipeline's fused maps, against that
    pipeline's poses: isolates the decoding from the network and fusion."""
    from swahr_infer.decode import decode
    from swahr_infer.image_io import to_pixels
    from swahr_infer.preprocess import plan_scales

    image_hw = to_pixels(image)[0].shape[:2]
    to_image = plan_scales(image_hw, est.input_size, est.scales)[2]
    heatmaps, tags = (np.ascontiguousarray(m, np.float32) for m in maps)
    poses = decode(heatmaps, tags, to_image, joint_names=est.joint_names,
                   skeleton=est.skeleton, params=est.params)
    return pose_agreement(poses.keypoints, reference)


def trained_model(checkpoint: Path, arch: str, cache: Path, *, fp16: bool = False,
                  input_size: Optional[int] = None) -> Path:
    """``checkpoint`` exported to ONNX once (cached by its name, size, date and the options)."""
    stat = checkpoint.stat()
    tag = f"{checkpoint.stem}_{stat.st_size}_{int(stat.st_mtime)}_{input_size or 'default'}"
    path = cache / f"trained_{arch}_{tag}_{'fp16' if fp16 else 'fp32'}.onnx"
    if not path.is_file():
        from export.onnx_export import export_checkpoint

        path.parent.mkdir(parents=True, exist_ok=True)
        export_checkpoint(checkpoint, path, arch=arch, fp16=fp16, input_size=input_size)
    return path


def model_for(args, cache: Path, *, fp16: bool = False) -> Path:
    """The ONNX model both sides' weights come from: --checkpoint's, else random weights."""
    if args.checkpoint is not None:
        return trained_model(args.checkpoint, args.arch, cache, fp16=fp16,
                             input_size=args.input_size)
    return random_model(args.arch, cache, fp16=fp16)


def build_pair(name: str, args, cache: Path) -> Optional[Tuple[Side, Side]]:
    fp32 = model_for(args, cache)
    base = dict(threads=args.threads, device="cpu")
    if name == "precision":
        return (ours("fp32", fp32, **base),
                ours("fp16", model_for(args, cache, fp16=True), **base))
    if name == "scales":
        return ours("scales 1", fp32, **base), ours("scales 2,1,0.5", fp32,
                                                    scales=(2.0, 1.0, 0.5), **base)
    if name == "flip":
        return ours("flip on", fp32, **base), ours("flip off", fp32, flip=False, **base)
    if name == "threads":
        return (ours("1 thread", fp32, threads=1, device="cpu"),
                ours("2 threads", fp32, threads=2, device="cpu"))
    if name == "cuda":
        return ours("CPU", fp32, **base), ours("CUDA", fp32, threads=args.threads,
                                                device="cuda")
    if name == "official":
        checkpoint = args.checkpoint or random_checkpoint(args.arch, cache)
        return (official("official", args.official_repo, checkpoint, args.arch,
                         threads=args.threads, input_size=args.input_size),
                ours("swahr-infer", fp32, **base))
    raise ValueError(name)


def skip_reason(name: str, args) -> Optional[str]:
    if name == "cuda":
        import onnxruntime

        if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
            return "onnxruntime has no CUDAExecutionProvider here"
    if name == "official" and args.official_repo is None:
        return "needs --official-repo PATH"
    return None


def print_rows(rows: List[dict]) -> None:
    table = []
    for row in rows:
        if "skipped" in row:
            continue
        for key in ("a", "b"):
            stages = row[f"{key}_ms"]
            entry = {"pair": row["pair"], "config": row[key],
                     **{s: stages[s]["median_ms"] for s in stages},
                     "p90": stages["total"]["p90_ms"],
                     "img/s": 1000.0 / stages["total"]["median_ms"]}
            if key == "b":
                agreement = row["agreement"]
                entry["speedup"] = row["speedup"]
                entry["people"] = "/".join(str(n) for n in agreement["people"])
                entry["within 1px"] = f"{agreement['matched']}"
                entry["max px"] = agreement["max_px_diff"]
                diff = row.get("maps", {}).get("heatmaps_max_abs")
                entry["max dmap"] = None if diff is None else f"{diff:.1e}"
            table.append(entry)
    columns = ["pair", "config", "load", "preprocess", "inference", "fusion", "decode",
               "total", "p90", "img/s", "speedup", "people", "within 1px", "max px",
               "max dmap"]
    headers = ["pair", "config", "load", "preproc", "infer", "fusion", "decode", "total",
               "p90 total", "img/s", "A/B", "people A/B", "within 1px", "max px",
               "max |d heatmap|"]
    print("median ms per stage; A/B = speedup of B over A (median total); agreement of B's "
          "poses with A's")
    print(format_table(table, columns, headers))
    for row in rows:
        if "skipped" in row:
            print(f"{row['pair']}: skipped ({row['skipped']})")
        if "our_decoder_on_official_maps" in row:
            same = row["our_decoder_on_official_maps"]
            print(f"our decoder on the official fused maps vs the official parser: people "
                  f"{same['people'][0]}/{same['people'][1]}, {same['matched']} within 1 px, "
                  f"max px {same['max_px_diff']}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", nargs="+", choices=PAIRS, default=list(PAIRS))
    ap.add_argument("--arch", default="w32", help="architecture (default w32): random weights, "
                    "or --checkpoint's")
    ap.add_argument("--checkpoint", type=Path, default=None,
                    help="trained weights of --arch (official names) for both sides instead of "
                         "random ones: a same-poses check on real peaks")
    ap.add_argument("--input-size", type=int, default=None,
                    help="input size the checkpoint was trained at, if not the architecture's")
    ap.add_argument("--size", default="640x480", help="synthetic JPEG WxH (default 640x480)")
    ap.add_argument("--image", type=Path, default=None, help="image file instead")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--official-runs", type=int, default=None,
                    help="runs for the official pair (default: --runs)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--official-repo", type=Path, default=None,
                    help="SWAHR-HumanPose checkout (needs torch, yacs, munkres)")
    ap.add_argument("--cache-dir", type=Path, default=CACHE)
    ap.add_argument("--json", type=Path, default=RESULTS / "compare.json")
    ap.add_argument("--png", type=Path, default=None)
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args(argv)

    load_at_start = [round(v, 2) for v in os.getloadavg()]
    width, height = (int(v) for v in args.size.lower().split("x"))
    image = str(args.image or synthetic_image_file(width, height, args.cache_dir))
    if args.image is not None:
        from swahr_infer.image_io import to_pixels

        height, width = to_pixels(image)[0].shape[:2]
    rows = []
    for name in args.pairs:
        reason = skip_reason(name, args)
        if reason:
            rows.append({"pair": name, "skipped": reason})
            print(f"{name}: skipped ({reason})", file=sys.stderr)
            continue
        a, b = build_pair(name, args, args.cache_dir)
        runs = (args.official_runs or args.runs) if name == "official" else args.runs
        try:
            rows.append(run_pair(name, a, b, image, runs, args.warmup))
        finally:
            a.close()
            b.close()
        print(f"{name}: {rows[-1]['a']} {rows[-1]['a_ms']['total']['median_ms']:.0f} ms, "
              f"{rows[-1]['b']} {rows[-1]['b_ms']['total']['median_ms']:.0f} ms",
              file=sys.stderr)
    print_rows(rows)
    meta = {**machine_info(), "arch": args.arch,
            "checkpoint": None if args.checkpoint is None else str(args.checkpoint),
            "input_size": args.input_size, "image": image,
            "image_size": f"{width}x{height}",
            "threads": args.threads, "loadavg_at_start": load_at_start,
            "command": " ".join(["python benchmarks/compare.py",
                                 *(argv if argv is not None else sys.argv[1:])])}
    payload = {"kind": "compare", "meta": meta, "rows": rows}
    write_json(args.json, payload)
    print(f"wrote {args.json}")
    if not args.no_plot and any("skipped" not in r for r in rows):
        from benchmarks.plot import plot_compare

        print(f"wrote {plot_compare(payload, args.png or args.json.with_suffix('.png'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
