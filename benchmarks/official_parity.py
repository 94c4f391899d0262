#!/usr/bin/env python
"""Same poses as the official pipeline? A trained model, many images, both matching solvers.

The official SWAHR test loop (its model class with the checkpoint, its preprocessing, fusion
and parser: benchmarks/official.py) and swahr-infer (the checkpoint exported to ONNX, ONNX
Runtime, our decoder) run on every image of a folder.  Per solver of our decoder ("scipy", the
default, and "munkres", the one the official code calls) it reports how many of the official
persons we return within 0.05 px and within 1 px, the largest joint distance, the largest score
difference of the persons paired, and the time of each pipeline.  With random weights this is
no parity test (noise maps: SPEC.md "Ties"); with a trained checkpoint it is the end-to-end one.

``--device cuda`` runs both on the GPU: the official network and parser there, as its tester
runs, and ours as the device pipeline (the checkpoint in the torch backend, fp32; preprocessing,
fusion, NMS and refine in our kernels; grouping on the host).  TF32 is off for both unless
``--tf32``: the check is of the pipelines, not of the convolutions' precision.

    python benchmarks/official_parity.py --official-repo /path/to/SWAHR-HumanPose \\
        --checkpoint runs/gpu7b/model_final.pth --arch w16-small --input-size 384 \\
        --images VAL/images --limit 20

Needs torch, yacs and munkres (the bench extra), and onnxslim for the export.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Dict, List

import numpy as np

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from swahr_infer.benchmark import format_table, machine_info, pose_agreement, write_json  # noqa: E402
from swahr_infer.decode.params import ASSIGNMENTS as SOLVERS  # noqa: E402
from swahr_infer.image_io import list_images  # noqa: E402

HERE = Path(__file__).resolve().parent


def score_difference(ours: np.ndarray, our_scores: np.ndarray, theirs: np.ndarray,
                     their_scores: np.ndarray) -> float:
    """Largest |score difference| of our persons to the official ones with the same keypoints
    (within 1 px; refine can give two persons the same keypoints, so of those the closest
    score counts)."""
    if len(ours) == 0 or len(theirs) == 0:
        return 0.0
    dist = np.abs(ours[:, None, :, :2] - theirs[None, :, :, :2]).max(axis=(2, 3))
    gaps = np.abs(our_scores[:, None].astype(np.float64) - their_scores[None].astype(np.float64))
    gaps = np.where(dist <= 1.0, gaps, np.inf).min(axis=1)
    return float(gaps[np.isfinite(gaps)].max(initial=0.0))


def run(args) -> Dict[str, object]:
    from benchmarks.compare import trained_model
    from benchmarks.official import OfficialPipeline
    from swahr_infer import Estimator

    images = list_images(args.images)[: args.limit]
    if not images:
        raise SystemExit(f"no images in {args.images}")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SystemExit(f"--device cuda: torch {torch.__version__} sees no CUDA GPU here")
    if args.device == "cuda" and not args.tf32:

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    official = OfficialPipeline(args.official_repo, args.checkpoint, args.arch,
                                threads=args.threads, input_size=args.input_size,
                                scales=args.scales, flip=not args.no_flip, device=args.device)
    common = dict(assignment=None, scales=args.scales, flip=not args.no_flip)
    if args.device == "cuda":  # the device pipeline around the checkpoint itself
        model = str(args.checkpoint)
        common.update(device="cuda", precision="fp32", arch=args.arch, input_size=args.input_size)
    else:
        model = trained_model(args.checkpoint, args.arch, args.cache_dir,
                              input_size=args.input_size)
        common.update(threads=args.threads)
    ours = {s: Estimator(model, **{**common, "assignment": s}) for s in SOLVERS}
    totals = {s: {"official_people": 0, "people": 0, "within_0.05px": 0, "within_1px": 0,
                  "max_px_diff": 0.0, "max_score_diff": 0.0, "images_identical": 0,
                  "seconds": 0.0} for s in SOLVERS}
    official_seconds, failures = 0.0, []
    for path in images:
        start = time.perf_counter()
        try:
            their_kp, their_scores = official.predict(str(path))
        except Exception as exc:  # noqa: BLE001 - a bad file is reported and skipped
            failures.append({"file": str(path), "reason": f"{type(exc).__name__}: {exc}"})
            print(f"skipped {path}: {failures[-1]['reason']}", file=sys.stderr)
            continue
        official_seconds += time.perf_counter() - start
        for solver, est in ours.items():
            start = time.perf_counter()
            poses = est.predict(str(path))
            t = totals[solver]
            t["seconds"] += time.perf_counter() - start
            exact = pose_agreement(poses.keypoints, their_kp, tolerance_px=0.05)
            loose = pose_agreement(poses.keypoints, their_kp, tolerance_px=1.0)
            t["official_people"] += len(their_kp)
            t["people"] += len(poses.keypoints)
            t["within_0.05px"] += exact["matched"]
            t["within_1px"] += loose["matched"]
            t["max_px_diff"] = max(t["max_px_diff"], loose["max_px_diff"] or 0.0)
            t["max_score_diff"] = max(t["max_score_diff"], score_difference(
                poses.keypoints, poses.scores, their_kp, their_scores))
            t["images_identical"] += int(exact["matched"] == len(their_kp) == len(poses.keypoints))
    for est in ours.values():
        est.close()
    done = len(images) - len(failures)
    if done == 0:
        raise SystemExit("no image could be read")
    rows = [{"solver": s, "images": done, **totals[s],
             "ms_per_image": 1000 * totals[s]["seconds"] / done,
             "official_ms_per_image": 1000 * official_seconds / done} for s in SOLVERS]
    return {"kind": "official_parity", "meta": {
        **machine_info(), "checkpoint": str(args.checkpoint), "arch": args.arch,
        "input_size": args.input_size, "scales": list(args.scales), "flip": not args.no_flip,
        "images": str(args.images), "count": len(images), "device": args.device,
        "tf32": bool(args.tf32) if args.device == "cuda" else None, "threads": args.threads, "failures": failures,
        "command": " ".join(["python benchmarks/official_parity.py", *sys.argv[1:]])},
        "rows": rows}


def main(argv: List[str] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--official-repo", type=Path, required=True,
                    help="SWAHR-HumanPose checkout (needs torch, yacs, munkres)")
    ap.add_argument("--checkpoint", type=Path, required=True, help="trained weights of --arch")
    ap.add_argument("--arch", default="w32", help="architecture of the checkpoint")
    ap.add_argument("--input-size", type=int, default=None,
                    help="input size it was trained at, if not the architecture's")
    ap.add_argument("--images", type=Path, required=True, help="a folder of images (or one)")
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0],
                    help="test scales of both pipelines (default 1; e.g. 2 1 0.5)")
    ap.add_argument("--no-flip", action="store_true", help="flip test off in both")
    ap.add_argument("--limit", type=int, default=20, help="first N images (default 20)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="cuda: both pipelines on the GPU, ours as the device pipeline")
    ap.add_argument("--tf32", action="store_true",
                    help="with --device cuda, leave TF32 convolutions on (torch's default)")
    ap.add_argument("--cache-dir", type=Path, default=HERE / ".cache")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "official_parity.json")
    args = ap.parse_args(argv)
    payload = run(args)
    print(format_table(payload["rows"], [
        "solver", "images", "official_people", "people", "within_0.05px", "within_1px",
        "max_px_diff", "max_score_diff", "images_identical", "ms_per_image",
        "official_ms_per_image"]))
    write_json(args.json, payload)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
