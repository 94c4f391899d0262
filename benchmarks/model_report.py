"""AP of trained models on a held-out synthetic validation set (issue: bundled model report).

Generates the validation set with export.synthetic_people (a seed never used in training: the
trainer draws batch b from (seed, b) with small training seeds), then scores each
configuration with ``swahr_infer.evaluate`` (xtcocotools when importable, else pycocotools):
the shipped model, its FP16 export, single vs multi-scale, flip on/off, and any extra models
given (e.g. the fixed-sigma L2 ablation).  Prints a table and writes JSON.

    python benchmarks/model_report.py --model swahr_infer/data/swahr_w16_small_384.onnx \
        --fp16 runs/gpu7b/model_final.pth --images 200 --other-input 320
    python benchmarks/model_report.py --append --extra "L2 ablation=l2.onnx"   # one more row

Every ``--extra`` (NAME=PATH, an existing file) and the ``--fp16`` checkpoint (the architecture
of ``--model``) are checked before anything runs.  The validation set is made in a temporary
folder that is removed at the end, also when a row fails (``--keep-val`` keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from swahr_infer.benchmark import write_json

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


def parse_extras(items, ap: argparse.ArgumentParser, flag: str = "--extra"):
    """[(name, path)] of the ``--extra NAME=PATH`` items, each checked before any row runs (a
    bare ``model.onnx`` would otherwise fail as "unknown model type ''" after every other row
    ran)."""
    extras = []
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path:
            ap.error(f"{flag} {item}: expected NAME=PATH, e.g. \"L2 ablation=l2.onnx\"")
        if not Path(path).is_file():
            ap.error(f"{flag} {item}: no such model file {path}")
        extras.append((name, path))
    return extras


def load_fp16_checkpoint(checkpoint: str, model: str, ap: argparse.ArgumentParser):
    """(network, its info, ``model``'s input size) of ``checkpoint``, refused unless it is of
    the architecture of ``model`` (its metadata): otherwise the FP16 row would silently score
    another network than the rows it is compared with."""
    from export.checkpoint import load_checkpoint
    from swahr_infer.errors import SwahrError
    from swahr_infer.metadata import ModelInfo, read_onnx_props

    try:
        expected = ModelInfo.from_props(read_onnx_props(model), source=model)
        network, info = load_checkpoint(checkpoint)
    except SwahrError as exc:
        ap.error(f"--fp16 {checkpoint}: {exc}")
    describe = lambda i: (f"{i.arch} ({'SWAHR' if i.has_scale_heads else 'HigherHRNet'}, "  # noqa: E731
                          f"width {i.width}, {i.num_joints} joints)")
    if (info.arch, info.width, info.num_joints, info.has_scale_heads) != (
            expected.arch, expected.width, expected.num_joints, expected.has_scale_heads):
        ap.error(f"--fp16 {checkpoint} is a {describe(info)} checkpoint but --model {model} is "
                 f"{describe(expected)}: the FP16 row would compare another network; give the "
                 "checkpoint --model was exported from")
    return network, info, expected.input_size


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
    ap.add_argument("--keep-val", action="store_true",
                    help="keep the generated validation set (its folder is printed); by default "
                         "it is removed at the end")
    ap.add_argument("--append", action="store_true",
                    help="score only the --extra models and add their rows to the existing --json "
                         "(same validation set: its size and seed are read from there); a model "
                         "named as an existing row replaces that row")
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
        previous = read_previous(args, ap)
    elif not args.model:
        ap.error("--model is required (unless --append)")
    extras = parse_extras(args.extra, ap)
    fp16 = load_fp16_checkpoint(args.fp16, args.model, ap) if args.fp16 and not previous else None

    work = Path(tempfile.mkdtemp(prefix="swahr-val-"))
    try:
        return _report(args, previous, extras, fp16, work)
    finally:
        if args.keep_val:
            print(f"validation set kept in {work / 'val'}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _report(args, previous, extras, fp16, work: Path) -> int:
    """The rows on a validation set made under ``work``, and the JSON."""
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
    if fp16 is not None:
        from export.onnx_export import export_onnx

        network, info, size = fp16
        fp16_path = work / "fp16.onnx"  # at the FP32 model's input size, so the rows compare
        export_onnx(network, str(fp16_path), info, fp16=True, input_size=size)
        rows.append(run_config("FP16 ONNX, flip, scale 1", fp16_path, ann, images, **opts))
    for name, path in extras:
        put_row(rows, run_config(name, path, ann, images, **opts))

    write_results(args, rows, previous, python=sys.version.split()[0])
    return 0


def read_previous(args, ap: argparse.ArgumentParser) -> dict:
    """The report at ``args.json`` that ``--append`` adds rows to.  Its validation set (images,
    size, seed) becomes ``args``', so the new rows are scored on the same images; a different
    ``--images``/``--size``/``--seed`` given with it is refused rather than ignored."""
    try:
        previous = json.loads(Path(args.json).read_text())
        validation = previous["validation"]
        fixed = {key: validation[key] for key in ("images", "size", "seed")}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        ap.error(f"--append: cannot read the report to add to, {args.json}: "
                 f"{type(exc).__name__}: {exc}")
    for key, value in fixed.items():
        given = getattr(args, key)
        if given != ap.get_default(key) and given != value:
            ap.error(f"--append: --{key} {given} differs from the report's validation set "
                     f"({key} {value}); drop --{key}")
        setattr(args, key, value)
    return previous


def put_row(rows: list, row: dict) -> None:
    """Adds ``row`` to ``rows``; a row of the same name is replaced where it stands (a model
    re-exported and rescored keeps its place in the table)."""
    places = [i for i, earlier in enumerate(rows) if earlier["config"] == row["config"]]
    if places:
        rows[places[0]] = row
    else:
        rows.append(row)


def write_results(args, rows, previous=None, **fields) -> None:
    """The JSON of a report on the validation set (``args.images``, ``size``, ``seed``) to
    ``args.json``: the machine, the set, the command that made it (pasteable), ``fields``, the
    rows; after ``--append`` (``previous``, the report added to) also the earlier commands."""
    history = ({"commands_before": [previous["command"]] + previous.get("commands_before", [])}
               if previous else {})
    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} CPU cores, {platform.system()}",
        "validation": {"generator": "export.synthetic_people.generate_dataset",
                       "images": args.images, "size": args.size, "seed": args.seed},
        "command": "python " + shlex.join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        **fields,
        **history,
        "rows": rows,
    }
    write_json(args.json, result)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    sys.exit(main())
