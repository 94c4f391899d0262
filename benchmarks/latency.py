#!/usr/bin/env python
"""Per-stage latency of the whole pipeline, per architecture and image size.

For each architecture (random weights, seeded PyTorch default initialisation, exported once
into --cache-dir) and each synthetic JPEG size, ``swahr-infer bench`` runs in a fresh process
(so that each row's peak RSS is its own and no torch is loaded while timing): --warmup calls,
then --runs timed calls of ``Estimator.predict(path)``.  Per stage (load = JPEG decode,
preprocess, inference, fusion, decode, total) the median and p90 in ms, images/s (1000 /
median total), people found, peak RSS and the numpy/Python allocation peak.

Random weights give noise heatmaps with 30 low-score "people" per image: the decoder's worst
case (refine runs for every missing joint of every person).  Prints a table, writes JSON and a
stacked-bar PNG of the medians.

    python benchmarks/latency.py                       # w32 and w16-small, 1920x1080 and 640x480
    python benchmarks/latency.py --archs w32 --sizes 640x480 --runs 5 --threads 2
"""

from __future__ import annotations

import argparse
import os
import json
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from swahr_infer.benchmark import (STAGES, format_table, machine_info, random_model,  # noqa: E402
                                   synthetic_image_file, write_json)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CACHE = HERE / ".cache"


def parse_size(text: str):
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def bench_row(model: Path, image: Path, args) -> dict:
    """One ``swahr-infer bench`` run in a child process; its JSON result."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "bench.json"
        command = [sys.executable, "-m", "swahr_infer", "bench", "--model", str(model),
                   "--image", str(image), "--runs", str(args.runs), "--warmup",
                   str(args.warmup), "--threads", str(args.threads), "--device", args.device,
                   "--scales", *[str(s) for s in args.scales], "--json", str(out)]
        if args.no_flip:
            command.append("--no-flip")
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
        return json.loads(out.read_text())


def table_row(result: dict) -> dict:
    config, stages = result["config"], result["stages"]
    row = {"arch": config["arch"], "image": "x".join(str(v) for v in config["image_size"]),
           "input": " + ".join(config["network_inputs"]), "people": result["people"],
           "p90": stages["total"]["p90_ms"], "img/s": result["images_per_s"],
           "rss": result["memory"]["rss_peak_mb"], "numpy": result["memory"]["traced_peak_mb"]}
    row.update({name: stages[name]["median_ms"] for name in STAGES if name in stages})
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--archs", nargs="+", default=["w32", "w16-small"])
    ap.add_argument("--sizes", nargs="+", type=parse_size, default=[(1920, 1080), (640, 480)],
                    metavar="WxH")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="inference threads (default 2)")
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0])
    ap.add_argument("--no-flip", action="store_true")
    ap.add_argument("--fp16", action="store_true", help="float16 models")
    ap.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--cache-dir", type=Path, default=CACHE)
    ap.add_argument("--json", type=Path, default=RESULTS / "latency.json")
    ap.add_argument("--png", type=Path, default=None,
                    help="stacked-bar chart (default: the JSON path with .png)")
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args(argv)

    load_at_start = [round(v, 2) for v in os.getloadavg()]
    models = {arch: random_model(arch, args.cache_dir, fp16=args.fp16) for arch in args.archs}
    images = {size: synthetic_image_file(*size, args.cache_dir) for size in args.sizes}
    rows, results = [], []
    for arch, model in models.items():
        for size, image in images.items():
            result = bench_row(model, image, args)
            results.append(result)
            rows.append(table_row(result))
            print(f"{arch} {size[0]}x{size[1]}: {result['stages']['total']['median_ms']:.0f} ms "
                  f"median", file=sys.stderr)
    columns = ["arch", "image", "input"] + [s for s in STAGES if s != "postprocess"] + \
        ["p90", "img/s", "people", "rss", "numpy"]
    headers = ["arch", "image", "network input", "load", "preproc", "infer", "fusion", "decode",
               "total", "p90 total", "img/s", "people", "RSS MiB", "numpy MiB"]
    print(f"median ms per stage, {args.runs} runs after {args.warmup} warm-up, threads "
          f"{args.threads}, scales {args.scales}, flip {'off' if args.no_flip else 'on'}")
    print(format_table(rows, columns, headers))
    payload = {"kind": "latency", "meta": {**machine_info(), "runs": args.runs,
                                           "warmup": args.warmup, "threads": args.threads,
                                           "loadavg_at_start": load_at_start,
                                           "command": " ".join(["python benchmarks/latency.py",
                                                                *(argv if argv is not None
                                                                  else sys.argv[1:])])},
               "rows": results}
    write_json(args.json, payload)
    print(f"wrote {args.json}")
    if not args.no_plot:
        from benchmarks.plot import plot_latency

        print(f"wrote {plot_latency(payload, args.png or args.json.with_suffix('.png'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
