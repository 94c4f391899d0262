"""Where models' AP differs, by figure size (the ablation of benchmarks/model_report.md).

SAHR's claim is about scale, but COCO's keypoint summary reports medium and large figures only,
and half of the held-out synthetic figures are small (area < 32²).  So each model's results on
the report's validation set are scored over three area ranges (all, small, medium: AP and
AP at OKS 0.75), and, ranking aside, each figure's best OKS over every person the model
reported (how well it is localised at all), with the number of people reported.

    python benchmarks/ablation_sizes.py "SWAHR=/tmp/abl_swahr.onnx" "L2=/tmp/abl_l2.onnx"
    python benchmarks/ablation_sizes.py --append --json results/x.json "L2 stage 4=l2_4.onnx"

The "all" column repeats the standard AP (the same scorer, the same 20 detections per image),
which the tests check.  Prints a table and writes JSON (results/ablation_sizes.json).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.model_report import (RESULTS, VAL_SEED, make_validation_set,  # noqa: E402
                                     parse_extras, put_row, read_previous, write_results)

SMALL = 32 ** 2
MEDIUM = 96 ** 2
RANGES = {"all": [0, 1e10], "small": [0, SMALL], "medium": [SMALL, MEDIUM]}


def ap_by_size(api, gt, results) -> dict:
    """AP and AP at OKS 0.75 over each area range of :data:`RANGES`, from one COCOeval run."""
    from swahr_infer.evaluate import _load_results

    with contextlib.redirect_stdout(io.StringIO()):  # the scorers print their progress
        dt = _load_results(api, gt, results)  # also when nobody was found
        evaluator = api.make_eval(gt, dt)
        evaluator.params.areaRng = list(RANGES.values())
        evaluator.params.areaRngLbl = list(RANGES)
        evaluator.evaluate()
        evaluator.accumulate()
    precision = evaluator.eval["precision"]  # [OKS threshold, recall, class, area, max dets]
    at75 = int(np.argmin(np.abs(evaluator.params.iouThrs - 0.75)))
    out = {}
    for a, label in enumerate(RANGES):
        every, strict = precision[:, :, 0, a, -1], precision[at75, :, 0, a, -1]
        out[f"ap_{label}"] = float(every[every > -1].mean()) if (every > -1).any() else None
        out[f"ap75_{label}"] = float(strict[strict > -1].mean()) if (strict > -1).any() else None
    # the joints' OKS sigmas as this scorer holds them (xtcocotools: on the evaluator)
    sigmas = getattr(evaluator, "sigmas", None)
    return out, np.asarray(evaluator.params.kpt_oks_sigmas if sigmas is None else sigmas, float)


def best_oks(annotations, results, sigmas) -> dict:
    """Per size class: the median of each figure's best OKS over all the people reported in its
    image, and the share of figures whose best OKS reaches 0.75 (the scorer's OKS formula)."""
    by_image = {}
    for r in results:
        by_image.setdefault(r["image_id"], []).append(np.asarray(r["keypoints"], float).reshape(-1, 3))
    variances = (2 * sigmas) ** 2
    best = {"small": [], "medium": []}
    for person in annotations:
        truth = np.asarray(person["keypoints"], float).reshape(-1, 3)
        seen = truth[:, 2] > 0
        if person.get("iscrowd") or not seen.any() or person["area"] >= MEDIUM:
            continue
        top = 0.0
        for found in by_image.get(person["image_id"], []):
            d2 = ((found[:, :2] - truth[:, :2]) ** 2).sum(axis=1)
            e = d2 / variances / (person["area"] + np.spacing(1)) / 2
            top = max(top, float(np.exp(-e[seen]).mean()))
        best["small" if person["area"] < SMALL else "medium"].append(top)
    return {f"best_oks_median_{k}": float(np.median(v)) if v else None for k, v in best.items()} | {
        f"best_oks_075_{k}": float(np.mean(np.asarray(v) >= 0.75)) if v else None
        for k, v in best.items()}


def score_model(name, model, ann, images, threads, api, gt):
    from swahr_infer.evaluate import evaluate

    report = evaluate(str(model), str(ann), str(images), progress=False, threads=threads)
    sizes, sigmas = ap_by_size(api, gt, report.results)
    figures = best_oks(gt.dataset["annotations"], report.results, sigmas)
    scores = np.asarray([r["score"] for r in report.results], float)
    row = {"config": name, "model": str(model), "ap": round(report.metrics.ap, 4),
           **{k: (None if v is None else round(v, 4)) for k, v in {**sizes, **figures}.items()},
           "people": report.people, "people_over_0.3": int((scores > 0.3).sum()),
           "scorer": report.scorer}
    print(f"{name:28s} AP {row['ap_all']:.3f} (small {row['ap_small']:.3f}, medium "
          f"{row['ap_medium']:.3f})  AP75 small {row['ap75_small']:.3f} medium "
          f"{row['ap75_medium']:.3f}  best OKS median small {row['best_oks_median_small']:.2f} "
          f"medium {row['best_oks_median_medium']:.2f}  people {row['people']} "
          f"({row['people_over_0.3']} over 0.3)", flush=True)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", metavar="NAME=MODEL.onnx", help="models to compare")
    ap.add_argument("--images", type=int, default=200, help="validation images")
    ap.add_argument("--size", type=int, default=256, help="validation image side")
    ap.add_argument("--seed", type=int, default=VAL_SEED)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=str(RESULTS / "ablation_sizes.json"))
    ap.add_argument("--append", action="store_true",
                    help="score the models on the validation set of the existing --json and add "
                         "their rows to it (a model named as an existing row replaces that row)")
    args = ap.parse_args(argv)
    if args.images < 1 or args.size < 32:
        ap.error("--images must be at least 1 and --size at least 32")
    models = parse_extras(args.models, ap, flag="model")
    previous = read_previous(args, ap) if args.append else None
    work = Path(tempfile.mkdtemp(prefix="swahr-val-"))
    try:
        from swahr_infer.evaluate import scoring_api

        ann = make_validation_set(work / "val", args.images, args.size, args.seed)
        api = scoring_api("coco")
        with contextlib.redirect_stdout(io.StringIO()):  # the scorers print their progress
            gt = api.coco(str(ann))  # the ground truth once, for every model
        rows = previous["rows"] if previous else []
        for name, path in models:
            put_row(rows, score_model(name, path, ann, ann.parent / "images", args.threads, api,
                                      gt))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_results(args, rows, previous,
                  areas={"small": f"< {SMALL}", "medium": f"{SMALL}-{MEDIUM}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
