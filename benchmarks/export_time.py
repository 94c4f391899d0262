"""Time `swahr-infer export` steps per architecture on this machine; print a table, write JSON.

    python benchmarks/export_time.py --archs w32 w48 --static 512x768 --threads 2 \
        --json benchmarks/results/export_time.json

Each row: checkpoint load (torch.load + arch inference + strict load), ONNX export (BN folding,
tracing, onnxslim, metadata, checker, atomic write) and the file size.  Random weights: the time
does not depend on their values.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

from swahr_infer.benchmark import write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", nargs="+", default=["w8-tiny", "w16-small", "w32"])
    parser.add_argument("--static", default=None, help="HxW, e.g. 512x768 (default: dynamic)")
    parser.add_argument("--fp16", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None, help="write the rows here")
    args = parser.parse_args()

    import torch

    from export.checkpoint import load_checkpoint
    from export.model import build_model
    from export.onnx_export import export_onnx

    torch.set_num_threads(args.threads)
    static = tuple(int(v) for v in args.static.split("x")) if args.static else None
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for arch in args.archs:
            checkpoint = Path(folder) / f"{arch}.pth"
            torch.save(build_model(arch).state_dict(), checkpoint)
            start = time.perf_counter()
            model, info = load_checkpoint(checkpoint)
            loaded = time.perf_counter()
            output = Path(folder) / f"{arch}.onnx"
            export_onnx(model, output, info, static_size=static, fp16=args.fp16)
            done = time.perf_counter()
            rows.append({"arch": arch, "static": args.static or "dynamic",
                         "precision": "fp16" if args.fp16 else "fp32",
                         "load_s": round(loaded - start, 2), "export_s": round(done - loaded, 2),
                         "total_s": round(done - start, 2),
                         "onnx_mb": round(output.stat().st_size / 2**20, 1)})
            output.unlink()
            checkpoint.unlink()
    header = ["arch", "static", "precision", "load_s", "export_s", "total_s", "onnx_mb"]
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(str(row[h]) for h in header))
    if args.json:
        write_json(args.json, {
            "machine": platform.processor() or platform.machine(), "threads": args.threads,
            "torch": torch.__version__, "rows": rows})


if __name__ == "__main__":
    main()
