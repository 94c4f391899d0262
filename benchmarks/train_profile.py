"""Where a training step's time goes, on the trainer's own data path, and what a few cheap
changes to the step are worth.

Why: on an H200 one arm of batch 32 at input 384 trained at 0.076 s an iteration and the pair
(``--l2-twin``) at 0.13 s, so the pair's whole 6,025-iteration budget did not fit in one device
call.  The remedy depends on what the step waits for: the data workers (more workers, cheaper
samples), the host issuing kernels (CUDA graphs, one process per arm) or the GPU itself (other
kernels, another layout).  This measures each, with the trainer's own pieces (its DataLoader,
workers and pinned copies, ``_step`` with bf16 autocast and channels-last on CUDA, the L2 twin):

* synchronised after each phase, per iteration: the wait for the next batch, the
  host-to-device copy, and each arm's step (forward, loss, backward, Adam);
* free-running, as the trainer runs (synchronised only at the end): seconds per iteration;
* under ``torch.profiler`` for a few iterations: the device's busy time per iteration (the sum
  of its kernel and copy times) against the iteration's wall time, device operations per
  iteration, the kernels taking the most device time and the operators taking the most host time.

Variants, each with fresh models (same seed, so the same initial weights) and a fresh loader:
``default`` (the trainer as it is), ``fused-adam`` (``torch.optim.Adam(fused=True)``),
``channels-first`` (no channels-last on CUDA), ``compile`` (``torch.compile`` of each model;
compiling shows in the warm-up time) and ``graphs`` (CUDA only: each arm's whole step captured
as one CUDA graph, :class:`export.graph_step.GraphedStep`, what ``train --cuda-graphs`` runs).  A variant that fails is reported with its error and
the others still run.  Prints a table and writes JSON.  The configuration (``--arch``,
``--batch-size``, ``--input-size``, ``--workers``, ``--device``, the counts) is checked once
before any variant: a bad one is one line on stderr and exit status 2.  When every variant
failed the JSON is still written and the exit status is 1.

    python benchmarks/train_profile.py --arch w16-small --input-size 384 --batch-size 32 \\
        --workers 14 --iters 30 --twin --variants default fused-adam channels-first
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import time
from functools import partial
from typing import Callable, Dict, List

import torch

from export.graph_step import GraphedStep, StaticBatch
from export.train import TrainConfig, _batches, _device, _setup, _step, _to_device, twin_config
from swahr_infer.benchmark import write_json
from swahr_infer.cli.args import int_at_least
from swahr_infer.errors import OptionError

VARIANTS = ("default", "fused-adam", "channels-first", "compile", "graphs")


def _arms(cfg: TrainConfig, variant: str, device: torch.device, twin: bool) -> List[Callable]:
    """One step function per arm (``step(batch, lr)``), built as the trainer builds its arms,
    then varied."""
    layout = torch.contiguous_format if variant == "channels-first" else torch.channels_last
    steps = []
    for arm_cfg in [cfg] + ([twin_config(cfg)] if twin else []):
        model, optimizer, loss_fn, _ = _setup(arm_cfg, device, resume=False)
        if variant == "fused-adam":
            optimizer = torch.optim.Adam(model.parameters(), lr=arm_cfg.lr, fused=True)
        elif variant == "channels-first":
            model.to(memory_format=torch.contiguous_format)
        elif variant == "compile":
            model = torch.compile(model)
        model.train()
        if variant == "graphs":
            steps.append(GraphedStep(model, optimizer, loss_fn))
        else:
            steps.append(partial(_step, model, optimizer, loss_fn, memory_format=layout))
    return steps


def _profile(run: Callable[[], None], iters: int, sync: Callable[[], None], cuda: bool,
             top: int) -> Dict[str, object]:
    """Profile ``iters`` calls of ``run``: per iteration the wall time, the device's busy time
    and operation count, and the top kernels (device time) and host operators (self CPU time)."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        t0 = time.perf_counter()
        for _ in range(iters):
            run()
        sync()
        wall = (time.perf_counter() - t0) / iters
    events = prof.key_averages()
    device = [e for e in events if e.device_type != DeviceType.CPU]
    host = [e for e in events if e.device_type == DeviceType.CPU]
    per_iter = lambda us: us / 1e3 / iters  # noqa: E731  (microseconds in all -> ms per iteration)
    busy = per_iter(sum(e.self_device_time_total for e in device))
    return {
        "wall_ms": wall * 1e3,
        "device_busy_ms": busy if cuda else None,
        "device_ops": sum(e.count for e in device) / iters if cuda else None,
        "host_ops": sum(e.count for e in host if e.key.startswith("aten::")) / iters,
        "top_kernels": [{"name": e.key, "calls": e.count / iters, "ms": per_iter(e.self_device_time_total)}
                        for e in sorted(device, key=lambda e: -e.self_device_time_total)[:top]],
        "top_host_ops": [{"name": e.key, "calls": e.count / iters, "ms": per_iter(e.self_cpu_time_total)}
                         for e in sorted(host, key=lambda e: -e.self_cpu_time_total)[:top]],
    }


def measure(cfg: TrainConfig, variant: str, device: torch.device, iters: int, warmup: int,
            profile_iters: int, twin: bool, top: int = 12) -> Dict[str, object]:
    """One variant: warm-up, ``iters`` synchronised iterations, ``iters`` free-running ones, then
    ``profile_iters`` under the profiler, all on consecutive batches of one loader."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    cuda = device.type == "cuda"
    if variant == "graphs" and not cuda:
        raise ValueError("the graphs variant needs a CUDA device")
    sync = (lambda: torch.cuda.synchronize(device)) if cuda else (lambda: None)
    arms = _arms(cfg, variant, device, twin)
    load = StaticBatch().load if variant == "graphs" else (lambda batch: batch)
    # a graphed step runs eagerly for its first calls, then captures: all of that is warm-up
    warmup = max(1, warmup) + (arms[0].warmup + 1 if variant == "graphs" else 0)
    run_cfg = dataclasses.replace(cfg, iters=warmup + 2 * iters + profile_iters)
    batches = _batches(run_cfg, 0, cuda)

    def one() -> None:
        batch = load(_to_device(next(batches), device))
        for step in arms:
            step(batch, cfg.lr)

    t0 = time.perf_counter()
    for _ in range(warmup):
        one()
    sync()
    warmup_s = time.perf_counter() - t0

    wait, copy, steps = [], [], [[] for _ in arms]
    for _ in range(iters):
        t0 = time.perf_counter()
        raw = next(batches)
        t1 = time.perf_counter()
        batch = load(_to_device(raw, device))
        sync()
        wait.append(t1 - t0)
        copy.append(time.perf_counter() - t1)
        for arm_steps, step in zip(steps, arms):
            t = time.perf_counter()
            step(batch, cfg.lr)
            sync()
            arm_steps.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    for _ in range(iters):
        one()
    sync()
    free = (time.perf_counter() - t0) / iters
    prof = _profile(one, profile_iters, sync, cuda, top) if profile_iters > 0 else None
    ms = lambda xs: statistics.median(xs) * 1e3  # noqa: E731
    return {"variant": variant, "arms": len(arms), "warmup_s": warmup_s, "wait_ms": ms(wait),
            "copy_ms": ms(copy), "step_ms": [ms(s) for s in steps],
            "synced_ms": ms(wait) + ms(copy) + sum(ms(s) for s in steps),
            "free_ms": free * 1e3, "profile": prof}


def _print_row(r: Dict[str, object]) -> None:
    p = r["profile"] or {}
    busy = p.get("device_busy_ms")
    busy_s = f"{busy:8.1f}" if busy is not None else f"{'-':>8}"
    print(f"{r['variant']:15} {r['arms']:4d} {r['warmup_s']:8.1f} {r['wait_ms']:7.1f} {r['copy_ms']:7.1f} "
          f"{' + '.join(f'{s:.1f}' for s in r['step_ms']):>13} {r['synced_ms']:8.1f} {r['free_ms']:8.1f} "
          f"{p.get('wall_ms', float('nan')):8.1f} {busy_s} {p.get('host_ops', float('nan')):8.0f}", flush=True)


def _print_profile(r: Dict[str, object]) -> None:
    p = r["profile"]
    if not p:
        return
    for title, rows in (("kernels by device time", p["top_kernels"]),
                        ("host operators by self CPU time", p["top_host_ops"])):
        if rows:
            print(f"\n{r['variant']}: {title} (ms and calls per iteration)")
            for row in rows:
                print(f"  {row['ms']:8.2f} {row['calls']:7.1f}  {row['name'][:100]}")


def main(argv=None) -> Dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="w16-small")
    ap.add_argument("--input-size", type=int, default=384)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=-1, help="data workers (default: the trainer's)")
    ap.add_argument("--iters", type=int_at_least(1), default=20,
                    help="iterations timed per phase (median)")
    ap.add_argument("--warmup", type=int_at_least(0), default=3)
    ap.add_argument("--profile-iters", type=int_at_least(0), default=5,
                    help="iterations under the profiler (0: none)")
    ap.add_argument("--twin", action="store_true", help="also step the fixed-sigma L2 twin (--l2-twin)")
    ap.add_argument("--variants", nargs="+", default=["default"], choices=VARIANTS)
    ap.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda")
    ap.add_argument("--threads", type=int_at_least(0), default=0,
                    help="torch CPU threads (0: torch's default)")
    ap.add_argument("--json", default="benchmarks/results/train_profile.json")
    args = ap.parse_args(argv)
    cfg = TrainConfig(arch=args.arch, batch_size=args.batch_size, input_size=args.input_size,
                      workers=args.workers, device=args.device, progress=False)
    try:
        # once, before any variant: a bad --arch, --batch-size, --input-size, --workers or
        # --device would otherwise fail inside every variant, as rows of a run that exits 0
        # (or, for --device, as a raw torch error)
        cfg.validate()
    except OptionError as exc:
        print(f"train_profile: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    cfg = cfg.resolved()
    device = _device(cfg)
    print(f"{args.arch}, batch {cfg.batch_size} at {cfg.input_size}, {device}, "
          f"{'SWAHR arm + L2 twin' if args.twin else 'one arm'}; ms per iteration (medians)")
    print(f"{'variant':15} {'arms':>4} {'warmup s':>8} {'wait':>7} {'copy':>7} {'step(s)':>13} "
          f"{'synced':>8} {'free':>8} {'profiled':>8} {'dev busy':>8} {'host ops':>8}")
    rows = []
    for variant in args.variants:
        try:
            rows.append(measure(cfg, variant, device, args.iters, args.warmup, args.profile_iters, args.twin))
        except Exception as exc:  # noqa: BLE001 - one variant's failure must not lose the others
            rows.append({"variant": variant, "error": f"{type(exc).__name__}: {exc}"})
            print(f"{variant:15} failed: {rows[-1]['error']}", flush=True)
            continue
        _print_row(rows[-1])
    for r in rows:
        if "error" not in r:
            _print_profile(r)
    result = {"meta": {"device": str(device), "torch": torch.__version__,
                       "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                       "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                       "config": dataclasses.asdict(cfg), "args": vars(args)},
              "rows": rows}
    write_json(args.json, result)
    print(f"\nwrote {args.json}")
    if rows and all("error" in r for r in rows):
        # nothing was measured: a script or CI step must not read this run as a success
        print("train_profile: error: every variant failed", file=sys.stderr)
        raise SystemExit(1)
    return result


if __name__ == "__main__":
    main()
