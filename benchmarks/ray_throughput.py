"""Images per second of batch inference on Ray Data (1, 2, ... CPU workers) against one process.

    python benchmarks/ray_throughput.py --images 48 --workers 1 2 \
        --json benchmarks/results/ray_throughput.json

The model is a random-weight ``w8-tiny`` HigherHRNet exported to ONNX (needs the export extra;
or pass ``--model FILE``), the images are synthetic people (``export.synthetic_people``, 256 x 192
by default), written as PNG files and read back by the workers, as in real use.  Every worker
runs one Estimator with one inference thread.

Rows:
* ``single process``: one Estimator over the same files, 1 and 2 threads, in a fresh process
  with ``OMP_NUM_THREADS`` = threads (as Ray sets it for its workers); no Ray.
* ``ray, W workers``: :func:`swahr_infer.batch.pose_dataset` consumed on the driver (what
  ``run_batch`` does before writing).  ``wall_s`` covers the whole run including the start-up
  of the actor pool.  A second, small run of W x batch-size images on a fresh pool gives the
  rest: ``steady_img_s`` = (images - small) / (wall_s - small_s), the rate once the pool is up
  (what matters for millions of images), and ``startup_s`` = small_s - small / steady_img_s.
  ``identical`` says whether every image got exactly the single-process poses.

Ray's own start (``ray.init``) is timed apart and excluded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Tuple

from swahr_infer.benchmark import write_json


def _model(folder: Path, arch: str) -> Path:
    import torch

    from export.checkpoint import load_checkpoint
    from export.model import build_model
    from export.onnx_export import export_onnx

    torch.manual_seed(0)
    checkpoint = folder / f"{arch}.pth"
    torch.save(build_model(arch).state_dict(), checkpoint)
    model, info = load_checkpoint(checkpoint)
    output = folder / f"{arch}.onnx"
    export_onnx(model, output, info)
    return output


def _images(folder: Path, count: int, size) -> list:
    import cv2
    import numpy as np

    from export.synthetic_people import sample

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        rgb, _ = sample(np.random.default_rng([2024, i]), size=size)
        path = folder / f"{i:06d}.png"
        cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1]))
        paths.append(str(path))
    return paths


def _single_process(model: Path, paths: list, threads: int) -> float:
    """Seconds for one Estimator over ``paths`` in a fresh process (after a warm-up image).

    A fresh process, with ``OMP_NUM_THREADS`` set as Ray sets it for its workers, so that both
    sides run the same way (this driver has imported torch for the export; BLAS thread pools
    spinning on a shared box would otherwise slow the baseline down).
    """
    code = (
        "import json, sys, time\n"
        "from swahr_infer import Estimator\n"
        "paths = json.loads(sys.argv[3])\n"
        "with Estimator(sys.argv[1], threads=int(sys.argv[2]), device='cpu') as est:\n"
        "    est.predict(paths[0])\n"
        "    start = time.perf_counter()\n"
        "    for path in paths:\n"
        "        est.predict(path)\n"
        "    print(time.perf_counter() - start)\n")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    result = subprocess.run([sys.executable, "-c", code, str(model), str(threads),
                             json.dumps(paths)], env=env, check=True, capture_output=True,
                            text=True)
    return float(result.stdout.strip().splitlines()[-1])


def _expected(model: Path, paths: list) -> dict:
    """path -> Poses of the single-process Estimator (untimed), to check the Ray results."""
    from swahr_infer import Estimator

    with Estimator(model, threads=1, device="cpu") as estimator:
        return {path: estimator.predict(path) for path in paths}


def _pass(model: Path, paths: list, workers: int, batch_size: int) -> Tuple[float, list]:
    """One pass of a fresh pose pool over ``paths``: (seconds, result rows)."""
    from swahr_infer.batch import pose_dataset

    start = time.perf_counter()
    dataset = pose_dataset(paths, model, workers=workers, batch_size=batch_size, threads=1,
                           device="cpu")
    rows = [row for table in dataset.iter_batches(batch_format="pyarrow", batch_size=None)
            for row in table.to_pylist()]
    return time.perf_counter() - start, rows


def _ray_run(model: Path, paths: list, workers: int, batch_size: int, expected: dict) -> dict:
    """A small and a full pass with ``workers`` actors; their difference cancels start-up."""
    import numpy as np

    small = paths[:workers * batch_size]
    small_s, _ = _pass(model, small, workers, batch_size)
    wall, rows = _pass(model, paths, workers, batch_size)
    steady = (len(paths) - len(small)) / max(wall - small_s, 1e-9)
    identical = len(rows) == len(paths) and all(
        r["error"] is None
        and np.array_equal(np.asarray(r["keypoints"], np.float32).reshape(
            expected[r["path"]].keypoints.shape), expected[r["path"]].keypoints)
        and np.array_equal(np.asarray(r["scores"], np.float32), expected[r["path"]].scores)
        for r in rows)
    return {"run": f"ray, {workers} worker(s)", "workers": workers, "wall_s": round(wall, 2),
            "img_s": round(len(paths) / wall, 2),
            "startup_s": round(max(small_s - len(small) / steady, 0.0), 2),
            "steady_img_s": round(steady, 2), "identical": identical}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (default: export "
                        "a random-weight --arch)")
    parser.add_argument("--arch", default="w8-tiny")
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--size", default="256x192", help="WxH of the synthetic images")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--json", default="benchmarks/results/ray_throughput.json")
    args = parser.parse_args()

    import ray

    size = tuple(int(v) for v in args.size.split("x"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = args.model or _model(folder, args.arch)
        paths = _images(folder / "images", args.images, size)
        expected = _expected(model, paths)
        for threads in (1, 2):
            seconds = _single_process(model, paths, threads)
            rows.append({"run": f"single process, {threads} thread(s)", "workers": 0,
                         "wall_s": round(seconds, 2), "img_s": round(len(paths) / seconds, 2),
                         "startup_s": None, "steady_img_s": round(len(paths) / seconds, 2),
                         "identical": True})
        start = time.perf_counter()
        ray.init(num_cpus=max(args.workers), include_dashboard=False, log_to_driver=False)
        ray_init_s = time.perf_counter() - start
        ray.data.DataContext.get_current().enable_progress_bars = False
        ray.data.range(4).materialize()  # Ray Data's one-off set-up, kept out of the rows
        try:
            for workers in args.workers:
                rows.append(_ray_run(model, paths, workers, args.batch_size, expected))
        finally:
            ray.shutdown()

    header = ["run", "wall_s", "img_s", "startup_s", "steady_img_s", "identical"]
    print(f"{args.images} images {args.size}, model {args.model or args.arch}, "
          f"{os.cpu_count()} CPUs, ray.init {ray_init_s:.1f} s")
    print(" | ".join(header))
    for row in rows:
        print(" | ".join("-" if row[h] is None else str(row[h]) for h in header))
    if args.json:
        out = write_json(args.json, {
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                        "python": platform.python_version(), "ray": ray.__version__,
                        "note": "shared 2-core CPU box; other jobs ran at the same time"},
            "images": args.images, "size": args.size, "model": str(args.model or args.arch),
            "batch_size": args.batch_size, "ray_init_s": round(ray_init_s, 2), "rows": rows,
        })
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
