#!/usr/bin/env python
"""The GPU pipeline's stages and end-to-end latency on one CUDA GPU, against their floors and
against the official pipeline's approach on the same GPU.

Rows (CUDA events around device work, warm-up first, medians; the device is named from its
CUDA properties).  ``ms`` brackets one Python call at a time, so it includes the host's launch
cost whenever that exceeds the GPU work (small kernels); ``queued_ms`` is the same call queued
back to back behind a spin kernel, the device time a pipeline pays when the host runs ahead;
``kernels`` splits a call into its device operations (CUPTI durations, microseconds):

* ``copy``: device-to-device copy of 1 GiB - the measured memory bandwidth (bytes read +
  written per second) that the floors below divide by;
* ``nms``: NMS + top-30 + tag gather on 17 x 512 x 768 float32 maps (synthetic people and
  uniform noise, the worst case), ours (two launches) vs torch max-pool + topk + gather (the
  official approach), vs the floor = one read of the heatmaps / copy bandwidth; maps rotated
  among several copies so that they are not all L2-resident, and once L2-warm;
* ``nms_variant``: the same with other block shapes of the tile launch (``NMS_VARIANTS``,
  compiled with -D), each checked to give exactly the default's candidates (``same``);
* ``preprocess``: a 1920 x 1080 frame to the 2 x 3 x 512 x 960 flip batch: our kernel (and the
  pinned upload) vs cv2 + the normalisation table on one CPU thread (the CPU path);
* ``fusion``: 2 x 17 x 256 x 480 outputs to the 17 x 512 x 960 fused maps, device vs CPU;
* ``refine``: the refine argmax for 30 people x 8 missing joints on 512 x 960 maps, device vs
  the CPU decoder's exact search;
* ``e2e``: W32-512 (random weights), flip, 1080p frame in, poses out: the device pipeline
  with the torch backend in fp16 (eager, and replayed as CUDA graphs), the network alone as a
  CUDA graph (the target is total <= 1.3 x that), and the official approach on the same GPU:
  CPU preprocessing, PyTorch fp32 called twice (image, flipped image), maps to the host, our
  CPU fusion and decoder as stand-ins for the official ones (they are faster, so the ratio is
  conservative); with ``--official-repo`` the official ``HeatmapParser.parse`` is timed too,
  and the official pipeline itself (its code end to end, network on this GPU);
* ``poses`` (with ``--official-repo``): our device pipeline's poses (fp16 with graphs, fp16
  eager, fp32) against the official pipeline's on the same frame and weights: people found by
  each, persons matched one to one within 0.05 px and 1 px, largest joint distance.

Random weights give ~30 noise "people" (every joint of every person a candidate, refine for
most of them): the decoders' worst case, and one where two pipelines' poses cannot agree (their
grouping of near-flat maps flips on float noise).  ``--checkpoint`` (trained W32 weights) and
``--image`` (a picture with people) make the end-to-end and pose rows meaningful for accuracy.

    python benchmarks/gpu_bench.py --json out/gpu_bench.json
    python benchmarks/gpu_bench.py --quick              # fewer runs, smaller copy
    python benchmarks/gpu_bench.py --skip nms preprocess fusion refine --official-repo .official \
        --checkpoint runs/w32/model_final.pth --image people.jpg   # trained weights, real people
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np

if __package__ in (None, ""):  # run as a script: make `swahr_infer` / `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from swahr_infer.benchmark import (format_table, machine_info, random_checkpoint,  # noqa: E402
                                   synthetic_image, write_json)

log = logging.getLogger("gpu_bench")
CACHE = Path(__file__).resolve().parent / ".cache"
K = 17


def device_events(cp, fn: Callable[[], object], runs: int, warmup: int = 3) -> List[float]:
    """Milliseconds of ``fn``'s device work per call (CUDA events on the current stream)."""
    for _ in range(warmup):
        fn()
    cp.cuda.get_current_stream().synchronize()
    times = []
    for _ in range(runs):
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, end))
    return times


# Holds the stream for a while, so that the calls queued behind it run back to back.
_SPIN = r"""
extern "C" __global__ void spin(unsigned long long ns) {
    unsigned long long start, now;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    do { asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now)); } while (now - start < ns);
}
"""


def device_queued(cp, fn: Callable[[], object], runs: int, warmup: int = 3) -> float:
    """Milliseconds of ``fn``'s device work per call with the host's launch cost taken out.

    :func:`device_events` brackets one call at a time, so the GPU idles while Python prepares
    the launches and that idle time is counted.  Here a spin kernel holds the stream while the
    host queues ``runs`` calls, which then execute back to back: the time per call a pipeline
    gets when the host runs ahead of the GPU (as it does behind the network).  NaN when the
    host took longer to queue them than the spin lasted (then the number would include gaps).
    """
    for _ in range(warmup):
        fn()
    stream = cp.cuda.get_current_stream()
    stream.synchronize()
    spin = cp.RawKernel(_SPIN, "spin")
    hold_ms = 100.0
    start, end = cp.cuda.Event(), cp.cuda.Event()
    spin((1,), (1,), (np.uint64(hold_ms * 1e6),))
    start.record()
    clock = time.perf_counter()
    for _ in range(runs):
        fn()
    queued_ms = (time.perf_counter() - clock) * 1e3
    end.record()
    end.synchronize()
    if queued_ms > 0.8 * hold_ms:
        log.warning("queueing %d calls took %.1f ms, longer than the spin: no queued time",
                    runs, queued_ms)
        return float("nan")
    return cp.cuda.get_elapsed_time(start, end) / runs


def kernel_times(cp, fn: Callable[[], object], runs: int) -> str:
    """Each device operation's mean duration per call of ``fn`` ("name us, ..."), as CUPTI
    traces it (through torch.profiler, which sees CuPy's kernels too); "" where that fails."""
    try:
        from torch.profiler import ProfilerActivity, profile

        fn()
        cp.cuda.get_current_stream().synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(runs):
                fn()
            cp.cuda.get_current_stream().synchronize()
        parts = [(event.self_device_time_total / runs, event.key) for event in prof.key_averages()]
        return ", ".join(f"{name[:28]} {us:.1f}" for us, name in sorted(parts, reverse=True)
                         if us > 0) + " us"
    except Exception as exc:  # noqa: BLE001 - a breakdown is extra; say why it is missing
        log.warning("no kernel breakdown (%s)", exc)
        return ""


def measure(cp, fn: Callable[[], object], runs: int) -> Tuple[float, float, str]:
    """``fn``'s per-call ms (:func:`device_events` median), queued ms (:func:`device_queued`)
    and per-kernel breakdown (:func:`kernel_times`): the three columns of a kernel row."""
    return (med(device_events(cp, fn, runs)), device_queued(cp, fn, runs),
            kernel_times(cp, fn, runs))


def host_clock(fn: Callable[[], object], runs: int, warmup: int = 1) -> List[float]:
    """Wall milliseconds per call (``fn`` must synchronise what it starts)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def med(values: List[float]) -> float:
    return float(np.median(values))


def row(name: str, variant: str, ms: float, **extra) -> Dict[str, object]:
    return {"stage": name, "variant": variant, "ms": round(ms, 4), **extra}


# -- stages ---------------------------------------------------------------------------------

def bench_copy(cp, args) -> float:
    nbytes = (256 if args.quick else 1024) << 20
    src = cp.ones(nbytes // 4, np.float32)
    dst = cp.empty_like(src)
    ms = med(device_events(cp, lambda: cp.copyto(dst, src), args.runs))
    bandwidth = 2 * nbytes / (ms * 1e-3)  # bytes read + written per second
    args.rows.append(row("copy", f"{nbytes >> 20} MiB device->device", ms,
                         bandwidth_gb_s=round(bandwidth / 1e9, 1)))
    return bandwidth


NMS_SIZE = (512, 768)  # the 17 x 512 x 768 maps


def nms_maps(cp):
    """("people" / "noise", host heatmaps, their device copies, device tags) for the NMS rows:
    6 copies of the 26.7 MB heatmaps (more than the L2 of an H100 / H200) to rotate among."""
    from tests.gpu.maps import noise_maps, people_maps

    h, w = NMS_SIZE
    for kind, (hm, tags) in (("people", people_maps(10, h, w, noise=0.01)),
                             ("noise", noise_maps(K, h, w))):
        yield kind, tags, [cp.asarray(hm) for _ in range(6)], cp.asarray(tags)


def bench_nms(cp, torch, args, bandwidth: float) -> None:
    from swahr_infer.gpu.nms import find_candidates_device

    h, w = NMS_SIZE
    floor = K * h * w * 4 / bandwidth * 1e3
    for kind, tags, hms, tg in nms_maps(cp):
        copies = len(hms)
        turn = iter(range(10 ** 9))

        def ours(rotate=True):
            find_candidates_device(hms[next(turn) % copies if rotate else 0], tg,
                                   threshold=0.1, k=30)

        rotated, queued, parts = measure(cp, ours, args.runs)
        warm = med(device_events(cp, lambda: ours(False), args.runs))
        th = [torch.as_tensor(x, device="cuda") for x in hms]
        tt = torch.as_tensor(tags, device="cuda").reshape(K, h * w, -1)

        def official(rotate=True):  # max-pool NMS + topk + gather, as the official parser
            x = th[next(turn) % copies if rotate else 0][None]
            peak = torch.nn.functional.max_pool2d(x, 5, 1, 2)
            kept = torch.where(peak == x, x, torch.zeros_like(x)).reshape(K, -1)
            values, index = kept.topk(30, dim=1)
            torch.gather(tt, 1, index[..., None].expand(-1, -1, tt.shape[2]))

        with torch.cuda.stream(torch.cuda.ExternalStream(cp.cuda.get_current_stream().ptr)):
            torch_ms = med(device_events(cp, official, args.runs))
            torch_queued = device_queued(cp, official, args.runs)
        args.rows += [
            row("nms", f"ours, {kind} maps, rotated", rotated, floor_ms=round(floor, 4),
                queued_ms=round(queued, 4), x_floor=round(queued / floor, 1), kernels=parts),
            row("nms", f"ours, {kind} maps, L2-warm", warm),
            row("nms", f"torch max-pool + topk, {kind}, rotated", torch_ms,
                queued_ms=round(torch_queued, 4), x_ours=round(torch_queued / queued, 1)),
        ]


# tile-launch variants of kernels/nms.cu timed against its defaults (THREADS 256, PER_THREAD 8,
# MIN_BLOCKS 6, the fastest of five shapes on an H200): the former default (16 pixels a thread,
# no register cap: 64 registers, 4 blocks an SM), the default without its cap, and other block sizes
NMS_VARIANTS = ({"PER_THREAD": 16, "MIN_BLOCKS": 1}, {"MIN_BLOCKS": 1}, {"THREADS": 128},
                {"THREADS": 512, "MIN_BLOCKS": 3})


def bench_nms_variants(cp, args) -> None:
    from swahr_infer.gpu.nms import find_candidates_device

    for kind, _, hms, tg in nms_maps(cp):
        reference = find_candidates_device(hms[0], tg, threshold=0.1, k=30)
        for variant in NMS_VARIANTS:
            turn = iter(range(10 ** 9))

            def ours(variant=variant):
                return find_candidates_device(hms[next(turn) % len(hms)], tg, threshold=0.1,
                                              k=30, variant=variant)

            got = ours()
            same = bool(cp.array_equal(got.rows, reference.rows)
                        and cp.array_equal(got.counts, reference.counts))
            name = ", ".join(f"{key} {value}" for key, value in variant.items())
            ms, queued, parts = measure(cp, ours, args.runs)
            args.rows.append(row("nms_variant", f"{kind} maps, {name}", ms,
                                 queued_ms=round(queued, 4), kernels=parts, same=same))


def bench_preprocess(cp, args, pipeline_pre, frame, plan) -> None:
    import cv2

    from swahr_infer.gpu.device import PinnedBuffer
    from swahr_infer.preprocess import normalization_table, prepare

    geometry = plan[0][0]
    staging = PinnedBuffer().view(frame.shape, np.uint8)
    np.copyto(staging, frame)
    image = cp.asarray(frame)
    stream = cp.cuda.get_current_stream()
    upload = med(device_events(cp, lambda: image.set(staging, stream=stream), args.runs))

    def ours():
        pipeline_pre(image, geometry, flip=True, channel_order="bgr")

    kernel, kernel_queued, parts = measure(cp, ours, args.runs)
    table = normalization_table((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "bgr")
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        cpu = med(host_clock(lambda: prepare(frame, input_size=512, scales=(1.0,),
                                             mean=(0.485, 0.456, 0.406),
                                             std=(0.229, 0.224, 0.225), flip=True,
                                             channel_order="bgr", table=table, plan=plan),
                             max(3, args.runs // 4)))
    finally:
        cv2.setNumThreads(threads)
    size = f"{frame.shape[1]}x{frame.shape[0]} -> 2x3x{geometry.size[1]}x{geometry.size[0]}"
    args.rows += [row("preprocess", f"ours kernel, {size}", kernel,
                      queued_ms=round(kernel_queued, 4), kernels=parts),
                  row("preprocess", "pinned upload of the uint8 frame", upload),
                  row("preprocess", "cv2 + table, 1 CPU thread", cpu,
                      x_ours=round(cpu / (kernel + upload), 1))]


def bench_fusion(cp, args, plan) -> None:
    from swahr_infer.fusion import fuse
    from swahr_infer.gpu.fusion import fuse_device
    from swahr_infer.skeleton import COCO

    geometry, projected = plan[0][0], plan[1]
    w, h = geometry.size[0] // 2, geometry.size[1] // 2
    rng = np.random.default_rng(0)
    outputs = {"heatmaps": rng.random((2, K, h, w), dtype=np.float32),
               "tags": rng.normal(0, 1, (2, K, h, w)).astype(np.float32)}
    device = [(1.0, {n: cp.asarray(v) for n, v in outputs.items()})]
    maps = [None]

    def ours():
        maps[0] = fuse_device(device, flip_index=COCO.flip_index, flip=True,
                              projected_size=projected, out=maps[0])

    ms, queued, parts = measure(cp, ours, args.runs)
    workspace: Dict[str, np.ndarray] = {}
    cpu = med(host_clock(lambda: fuse([(1.0, outputs)], flip_index=COCO.flip_index, flip=True,
                                      projected_size=projected, workspace=workspace),
                         max(3, args.runs // 4)))
    args.rows += [row("fusion", f"ours, 2x17x{h}x{w} -> 17x{projected[1]}x{projected[0]}", ms,
                      queued_ms=round(queued, 4), kernels=parts),
                  row("fusion", "CPU (cv2.resize), threads as set", cpu,
                      x_ours=round(cpu / ms, 1))]


def bench_refine(cp, args, plan) -> None:
    from swahr_infer.decode import refine_people
    from swahr_infer.gpu.refine import refine_queries, tag_argmax_device
    from tests.gpu.maps import people_maps

    w, h = plan[1]
    hm, tags = people_maps(30, h, w, noise=0.01)
    persons = np.zeros((30, K, 5), np.float32)
    rng = np.random.default_rng(1)
    persons[:, :9, 0] = rng.integers(0, w, (30, 9))
    persons[:, :9, 1] = rng.integers(0, h, (30, 9))
    persons[:, :9, 2] = 0.5
    persons[:, :9, 3:] = rng.normal(0, 3, (30, 9, 2))
    who, joint, means = refine_queries(persons)
    d_hm, d_tags = cp.asarray(hm), cp.asarray(tags)

    def ours():
        tag_argmax_device(d_hm, d_tags, joint, means)

    ms, queued, parts = measure(cp, ours, args.runs)
    cpu = med(host_clock(lambda: refine_people(persons, hm, tags), max(3, args.runs // 4)))
    args.rows += [row("refine", f"ours, {who.size} queries on 17x{h}x{w}", ms,
                      queued_ms=round(queued, 4), kernels=parts),
                  row("refine", "CPU decoder (exact tile search)", cpu,
                      x_ours=round(cpu / ms, 1))]


# -- end to end -----------------------------------------------------------------------------

def bench_e2e(cp, torch, args, frame) -> None:
    from swahr_infer import Estimator
    from swahr_infer.decode import DecodeParams, group_poses
    from swahr_infer.fusion import fuse
    from swahr_infer.preprocess import normalization_table, plan_scales, prepare

    checkpoint = args.checkpoint or random_checkpoint("w32", args.cache_dir)
    torch.backends.cudnn.benchmark = True
    results, found = {}, {}
    for label, graphs in (("ours, torch fp16 eager", False), ("ours, torch fp16 CUDA graphs", True)):
        est = Estimator(str(checkpoint), device="cuda", precision="fp16", cuda_graphs=graphs)
        walls, stages = [], {}
        for i in range(args.runs + 3):
            start = time.perf_counter()
            poses = est.predict(frame)
            wall = (time.perf_counter() - start) * 1e3
            if i >= 3:
                walls.append(wall)
                for name, value in est.last_timings.items():
                    stages.setdefault(name, []).append(value)
        results[label] = med(walls)
        found[label] = poses.keypoints
        args.rows.append(row("e2e", label, med(walls), people=len(poses),
                             **{f"{n}_ms": round(med(v), 3) for n, v in stages.items()
                                if n in ("preprocess", "inference", "fusion", "decode")}))
        if graphs:  # the network alone, replayed: the floor the target is stated against
            plan = plan_scales(frame.shape[:2], 512, (1.0,))
            stream = cp.cuda.Stream(non_blocking=True)
            with stream:
                batch = est.gpu.preprocess(cp.asarray(frame), plan[0][0], flip=True,
                                           channel_order="bgr")
                network = med(device_events(
                    cp, lambda: est.backend.run_device(batch, stream), args.runs))
            args.rows.append(row("e2e", "network alone, fp16 CUDA graph (floor)", network))
            results["network"] = network
        est.close()

    # the official approach: CPU preprocessing, fp32 PyTorch called twice, host decoding
    from export.checkpoint import load_checkpoint
    from export.onnx_export import ContractGraph, fold_batchnorm

    model, info = load_checkpoint(checkpoint)
    net = ContractGraph(fold_batchnorm(model.float().eval())).cuda().eval()
    table = normalization_table(info.mean, info.std, "bgr")
    plan = plan_scales(frame.shape[:2], 512, (1.0,))
    timings = {"preprocess": [], "network": [], "fusion": [], "decode": [], "total": []}
    params = DecodeParams.from_defaults(info.decode)
    official_parse = _official_parser(args, info)
    for i in range(max(3, args.runs // 2) + 1):
        t0 = time.perf_counter()
        prepared = prepare(frame, input_size=512, scales=(1.0,), mean=info.mean, std=info.std,
                           flip=True, channel_order="bgr", table=table, plan=plan)
        t1 = time.perf_counter()
        with torch.inference_mode():
            outs = [net(torch.from_numpy(prepared.batches[0][j:j + 1]).cuda()) for j in (0, 1)]
            host = {name: torch.cat([o[n] for o in outs]).cpu().numpy()
                    for n, name in enumerate(("heatmaps", "tags"))}
        t2 = time.perf_counter()
        fused = fuse([(1.0, host)], flip_index=info.flip_index, flip=True,
                     projected_size=prepared.projected_size)
        t3 = time.perf_counter()
        group_poses(fused.heatmaps, fused.tags, params)
        t4 = time.perf_counter()
        if i:
            for name, value in zip(timings, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
                timings[name].append(value * 1e3)
    official = med(timings["total"])
    args.rows.append(row("e2e", "official approach (fp32 x2, host fusion + our decoder)",
                         official, **{f"{n}_ms": round(med(v), 3) for n, v in timings.items()
                                      if n != "total"},
                         x_ours_graphs=round(official / results["ours, torch fp16 CUDA graphs"], 1)))
    if official_parse is not None:
        parse_ms = med(host_clock(lambda: official_parse(fused), 3, warmup=0))
        total = official - med(timings["decode"]) + parse_ms
        args.rows.append(row("e2e", "official approach with the official parser", total,
                             parse_ms=round(parse_ms, 1),
                             x_ours_graphs=round(total / results["ours, torch fp16 CUDA graphs"], 1)))
    ours = results["ours, torch fp16 CUDA graphs"]
    args.rows.append(row("e2e", "target: ours (graphs) / network floor", ours / results["network"],
                         unit="ratio", target="<= 1.3"))
    if args.official_repo:
        for assignment in ("scipy", "munkres"):  # munkres: the official solver's tie order
            est = Estimator(str(checkpoint), device="cuda", precision="fp32", assignment=assignment)
            label = "ours, torch fp32 eager" + (", munkres" if assignment == "munkres" else "")
            found[label] = est.predict(frame).keypoints
            est.close()
        bench_official_gpu(args, checkpoint, frame, ours, found)


def bench_official_gpu(args, checkpoint, frame, ours_ms: float, found, device="cuda") -> None:
    """The official pipeline itself (its code, end to end) on this GPU, and whether our device
    pipeline finds the same poses as it on the same frame and weights."""
    import tempfile

    import cv2

    from benchmarks.official import OfficialPipeline
    from swahr_infer.benchmark import pose_agreement

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "frame.png")  # lossless: both read the same pixels
        cv2.imwrite(path, frame)
        pipe = OfficialPipeline(args.official_repo, checkpoint, "w32", device=device)
        pipe.predict(path)  # warm-up (cuDNN autotuning, first allocations)
        timings = []
        for _ in range(args.official_runs):
            keypoints, _ = pipe.predict(path)
            timings.append(pipe.last_timings)
    stage = {n: med([t[n] for t in timings])
             for n in ("preprocess", "inference", "fusion", "decode", "total")}
    args.rows.append(row("e2e", "official pipeline (its code) on this GPU", stage["total"],
                         **{f"{n}_ms": round(v, 3) for n, v in stage.items() if n != "total"},
                         people=len(keypoints), x_ours_graphs=round(stage["total"] / ours_ms, 1)))
    for label, ours in found.items():
        for tolerance in (0.05, 1.0):
            agree = pose_agreement(ours, keypoints, tolerance_px=tolerance)
            args.rows.append(row("poses", f"{label} vs official, within {tolerance} px",
                                 float("nan"), people=f"{agree['people'][0]}/{agree['people'][1]}",
                                 matched=agree["matched"], max_px_diff=agree["max_px_diff"]))


def _official_parser(args, info):
    """``parse(fused)`` with the official HeatmapParser, or None (with the reason logged)."""
    if not args.official_repo:
        return None
    try:
        import torch

        from benchmarks.official import EXPERIMENTS, load_official_modules

        mods = load_official_modules(Path(args.official_repo))
        cfg = mods.cfg.clone()
        cfg.defrost()
        cfg.merge_from_file(str(Path(args.official_repo) / EXPERIMENTS["w32"]))
        cfg.freeze()
        parser = mods.group.HeatmapParser(cfg)
    except Exception as exc:  # noqa: BLE001 - optional comparison: say why and go on
        log.warning("official parser not available (%s); skipped", exc)
        return None

    def parse(fused):
        hm = torch.from_numpy(fused.heatmaps)[None]
        tags = torch.from_numpy(fused.tags)[None]
        parser.parse(hm, tags, True, True)

    return parse


def _read_image(path: Path) -> np.ndarray:
    """A BGR uint8 image file, as the end-to-end rows take it."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"gpu_bench: cannot read the image {path}")
    return image


def _guarded(name: str, run: Callable[[], None], args) -> None:
    """Run one stage; a failure becomes a row (one run of this script must report all it can)."""
    try:
        run()
    except Exception as exc:  # noqa: BLE001 - reported, and the other stages still run
        log.exception("stage %s failed", name)
        args.rows.append(row(name, f"FAILED: {type(exc).__name__}: {exc}"[:160], float("nan")))
        args.failed = True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per row (default 30)")
    parser.add_argument("--quick", action="store_true", help="fewer runs, smaller copy")
    parser.add_argument("--skip", nargs="*", default=(),
                        choices=("nms", "nms_variants", "preprocess", "fusion", "refine", "e2e"))
    parser.add_argument("--official-repo",
                        help="SWAHR-HumanPose checkout: time its parser and its whole pipeline "
                             "on the GPU too, and compare poses with it")
    parser.add_argument("--official-runs", type=int, default=3,
                        help="timed runs of the official pipeline (seconds each; default 3)")
    parser.add_argument("--checkpoint", type=Path,
                        help="W32 state dict for the end-to-end rows (official names, e.g. trained "
                             "with `swahr-infer train --arch w32`; default: random weights)")
    parser.add_argument("--image", type=Path,
                        help="image for the end-to-end rows (default: a synthetic 1920x1080 frame)")
    parser.add_argument("--cache-dir", type=Path, default=CACHE,
                        help="random-weight checkpoints (default benchmarks/.cache)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.quick:
        args.runs = min(args.runs, 10)
    from swahr_infer.errors import SwahrError
    from swahr_infer.gpu.device import require_device

    try:
        # the package's own check: no CuPy, no driver or no GPU is one line, not the raw CuPy
        # traceback (cudaErrorInsufficientDriver, ...) of the first CUDA call below
        require_device("gpu_bench")
    except SwahrError as exc:  # DeviceError, MissingDependencyError
        print(f"gpu_bench: error: {exc}", file=sys.stderr)
        return 1
    import cupy as cp
    import torch

    from swahr_infer.gpu.preprocess import DevicePreprocessor
    from swahr_infer.preprocess import plan_scales

    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    device = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    args.rows, args.failed = [], False
    frame = synthetic_image(1920, 1080) if args.image is None else _read_image(args.image)
    plan = plan_scales(frame.shape[:2], 512, (1.0,))
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        bandwidth = bench_copy(cp, args)
        stages = {
            "nms": lambda: bench_nms(cp, torch, args, bandwidth),
            "nms_variants": lambda: bench_nms_variants(cp, args),
            "preprocess": lambda: bench_preprocess(cp, args, DevicePreprocessor(
                (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)), frame, plan),
            "fusion": lambda: bench_fusion(cp, args, plan),
            "refine": lambda: bench_refine(cp, args, plan),
        }
        for name, run in stages.items():
            if name not in args.skip:
                _guarded(name, run, args)
    if "e2e" not in args.skip:
        _guarded("e2e", lambda: bench_e2e(cp, torch, args, frame), args)
    columns = ["stage", "variant", "ms"] + sorted({key for r in args.rows for key in r} -
                                                 {"stage", "variant", "ms"})
    print(f"\n{device}, {props['multiProcessorCount']} SMs, CuPy {cp.__version__}, "
          f"torch {torch.__version__}")
    print(format_table(args.rows, columns))
    if args.json:
        write_json(args.json, {"device": device, "machine": machine_info(),
                               "cupy": cp.__version__, "torch": torch.__version__,
                               "runs": args.runs, "rows": args.rows})
    return 1 if args.failed else 0


if __name__ == "__main__":
    sys.exit(main())
