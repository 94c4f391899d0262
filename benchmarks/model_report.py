"""AP of trained models on a held-out synthetic validation set (issue: bundled model report).

Generates the validation set with export.synthetic_people (a seed never used in training: the
trainer draws batch b from (seed, b) with small training seeds), then scores each
configuration with ``swahr_infer.evaluate`` (xtcocotools when importable, else pycocotools):
the shipped model, its FP16 export, single vs multi-scale, flip on/off, and any extra models
given (e.g. the fixed-sigma L2 ablation).  Prints a table and writes JSON.

    python benchmarks/model_report.py --model swahr_infer/data/swahr_w16_small_384.onnx \
        --fp16 runs/gpu7b/model_final.pth --images 200 --other-input 320
    python benchmarks/model_report.py --append --extra "L2 ablation=l2.onnx"   # one more row
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
VAL_SEED = 424242


def make_validation_set(folder: Path, n_images: int, size: int, seed: int) -> Path:
    from export.synthetic_people import generate_dataset

    ann = folder / "annotations.json"
    if not ann.exists():
        generate_dataset(str(folder), n_images, size=(size, size), seed=seed, image_format="png")
    return ann


def run_config(name, model, ann, images, **options):
    from swahr_infer.evaluate import evaluate

    start = time.perf_counter()
    report = evaluate(str(model), str(ann), str(images), progress=False, **options)
    m = report.metrics
    row = {"config": name, "model": str(model), "ap": round(m.ap, 4), "ap50": round(m.ap50, 4),
           "ap75": round(m.ap75, 4), "ap_medium": round(m.ap_medium, 4), "ar": round(m.ar, 4),
           "people": report.people, "failures": len(report.failures), "scorer": report.scorer,
           "seconds": round(time.perf_counter() - start, 1), "options": options}
    print(f"{name:40s} AP {m.ap:.3f}  AP50 {m.ap50:.3f}  AP75 {m.ap75:.3f}  "
          f"APm {m.ap_medium:.3f}  AR {m.ar:.3f}", flush=True)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="the shipped (FP32) ONNX model")
    ap.add_argument("--fp16", default=None,
                    help="checkpoint to export as FP16 ONNX for the FP16-vs-FP32 row")
    ap.add_argument("--extra", nargs="*", default=[], metavar="NAME=MODEL.onnx",
                    help="more models to score with the default options (e.g. an ablation)")
    ap.add_argument("--label", default="shipped", help="name of --model in the table")
    ap.add_argument("--other-input", type=int, default=384, metavar="N",
                    help="input size of the row that runs --model at another size than its own")
    ap.add_argument("--images", type=int, default=200, help="validation images")
    ap.add_argument("--size", type=int, default=256, help="validation image side")
    ap.add_argument("--seed", type=int, default=VAL_SEED)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=str(RESULTS / "model_report.json"))
    ap.add_argument("--append", action="store_true",
                    help="score only the --extra models and add their rows to the existing --json "
                         "(same validation set: its size and seed are read from there)")
    args = ap.parse_args(argv)
    previous = None
    if args.append:
        ignored = [flag for flag, given in (("--model", args.model), ("--fp16", args.fp16),
                                            ("--label", args.label != ap.get_default("label")),
                                            ("--other-input",
                                             args.other_input != ap.get_default("other_input")))
                   if given]
        if ignored:  # they would be silently dropped: --append scores only --extra models
            ap.error(f"--append scores only --extra models; drop {' and '.join(ignored)}")
        if not args.extra:
            ap.error("--append needs --extra NAME=MODEL.onnx")
        previous = json.loads(Path(args.json).read_text())
        args.images = previous["validation"]["images"]
        args.size = previous["validation"]["size"]
        args.seed = previous["validation"]["seed"]
    elif not args.model:
        ap.error("--model is required (unless --append)")

    work = Path(tempfile.mkdtemp(prefix="swahr-val-"))
    ann = make_validation_set(work / "val", args.images, args.size, args.seed)
    images = ann.parent / "images"
    opts = {"threads": args.threads}
    rows = previous["rows"] if previous else [
        run_config(f"{args.label}, flip, scale 1", args.model, ann, images, **opts),
        run_config(f"{args.label}, no flip", args.model, ann, images, flip=False, **opts),
        run_config(f"{args.label}, flip, scales 2,1,0.5", args.model, ann, images,
                   scales=(2.0, 1.0, 0.5), **opts),
        run_config(f"{args.label}, flip, scale 1, input {args.other_input}", args.model, ann,
                   images, input_size=args.other_input, **opts),
    ]
    if args.fp16 and not previous:
        from export.onnx_export import export_checkpoint
        from swahr_infer.metadata import ModelInfo, read_onnx_props

        fp16_path = work / "fp16.onnx"  # at the FP32 model's input size, so the rows compare
        size = ModelInfo.from_props(read_onnx_props(args.model), source=args.model).input_size
        export_checkpoint(args.fp16, str(fp16_path), fp16=True, input_size=size)
        rows.append(run_config("FP16 ONNX, flip, scale 1", fp16_path, ann, images, **opts))
    for item in args.extra:
        name, _, path = item.partition("=")
        rows.append(run_config(name, path, ann, images, **opts))

    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} CPU cores, {platform.system()}",
        "python": sys.version.split()[0],
        "validation": {"generator": "export.synthetic_people.generate_dataset",
                       "images": args.images, "size": args.size, "seed": args.seed},
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        **({"commands_before": [previous["command"]] + previous.get("commands_before", [])}
           if previous else {}),
        "rows": rows,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
