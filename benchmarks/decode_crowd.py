#!/usr/bin/env python
"""Decoding cost vs crowd size, per stage, and (optionally) against the official parser.

Synthetic fused maps (17 x 512 x 768, T = 2, i.e. a 1536 x 1024 image at input size 512) are
rendered from 1, 5, 10, 20, 30 well-separated people (:mod:`swahr_infer.synthetic`: about 15 %
of the joints invisible, so refine has work; heatmap noise 0.01, tag noise 0.05).  Our decoder
is timed stage by stage (validate, candidates, group, adjust + score, refine, transform) and end
to end (``decode``), median and p90 over ``--runs``, wall clock, plus the CPU time of the
process for the end-to-end numbers (less sensitive to other jobs on a shared machine).

With ``--official-repo PATH`` (a checkout of greatlog/SWAHR-HumanPose; needs torch and munkres)
the official ``HeatmapParser.parse`` + ``get_final_preds`` run on the same maps (loaded from
PATH/lib/core/group.py and PATH/lib/utils/transforms.py), and the table adds the speed ratio and
whether the poses are identical (same persons in the same order, max keypoint px difference,
max score difference).  People are "anchored" (joint 0 visible), which keeps the assignment
free of cost ties, so identical output is the expected result.

Both sides run single-threaded (OMP/MKL/torch threads = 1).  Prints a table and writes JSON.

    python benchmarks/decode_crowd.py --official-repo /tmp/swahr_official
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from swahr_infer.affine import box_affine  # noqa: E402
from swahr_infer.benchmark import summarize, write_json  # noqa: E402
from swahr_infer.decode import (  # noqa: E402
    DecodeParams, MapTiles, adjust_joints, check_maps, decode, find_candidates, group_candidates,
    grouping_order, person_scores, refine_people, to_image,
)
from swahr_infer.preprocess import scale_geometry  # noqa: E402
from swahr_infer.synthetic import random_people, render_maps  # noqa: E402

STAGES = ("validate", "candidates", "group", "adjust", "refine", "transform")


def make_case(people: int, height: int, width: int, seed: int):
    """Maps for one crowd, plus the image geometry whose projected size is the map size."""
    kps = random_people(people, (height, width), seed=seed + people)
    sigmas = np.random.default_rng(seed).uniform(1.5, 3.0, people)
    hm, tg = render_maps(kps, (height, width), sigma=sigmas, noise=0.01, tag_noise=0.05,
                         seed=seed + people)
    # a landscape image twice the map size; at input size = map height its projected size is
    # the map (for widths that are multiples of 64)
    geo = scale_geometry((height * 2, width * 2), input_size=height, factor=1.0, min_factor=1.0)
    assert geo.size == (width, height), geo.size
    affine = box_affine(geo.center, geo.box_scale, geo.size, inverse=True)
    return hm, tg, geo, affine


def time_ours(hm, tg, affine, params: DecodeParams):
    """Seconds per stage for one decode, and the result keypoints / scores."""
    clock = time.perf_counter
    t = [clock()]
    h, g = check_maps(hm, tg)
    t.append(clock())
    tiles = MapTiles(h, g)
    cand = find_candidates(h, g, threshold=params.detection_threshold, k=params.max_num_people,
                           kernel=params.nms_kernel, tiles=tiles)
    t.append(clock())
    persons = group_candidates(cand, grouping_order(h.shape[0]),
                               detection_threshold=params.detection_threshold,
                               tag_threshold=params.tag_threshold,
                               max_num_people=params.max_num_people,
                               use_detection_val=params.use_detection_val)
    t.append(clock())
    persons = adjust_joints(persons, h)
    scores = person_scores(persons)
    t.append(clock())
    before = int(np.sum(persons[..., 2] > 0))
    persons = refine_people(persons, h, g, tiles=tiles)
    t.append(clock())
    keypoints = to_image(persons, affine)
    t.append(clock())
    filled = int(np.sum(persons[..., 2] > 0)) - before
    return dict(zip(STAGES, np.diff(t))), keypoints, scores, filled


def load_official(repo: Path):
    """(HeatmapParser class, get_final_preds) from an official checkout, by file path."""
    def load(rel: str, name: str):
        spec = importlib.util.spec_from_file_location(name, repo / rel)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    group = load("lib/core/group.py", "swahr_official_group")
    transforms = load("lib/utils/transforms.py", "swahr_official_transforms")
    return group.HeatmapParser, transforms.get_final_preds


def official_cfg(num_joints: int, params: DecodeParams):
    """The attributes the official Params / HeatmapParser read from the yacs config."""
    ns = types.SimpleNamespace
    return ns(
        DATASET=ns(NUM_JOINTS=num_joints, MAX_NUM_PEOPLE=params.max_num_people, WITH_CENTER=False),
        MODEL=ns(TAG_PER_JOINT=True),
        TEST=ns(DETECTION_THRESHOLD=params.detection_threshold, TAG_THRESHOLD=params.tag_threshold,
                USE_DETECTION_VAL=params.use_detection_val, IGNORE_TOO_MUCH=False,
                IGNORE_CENTER=True, NMS_KERNEL=params.nms_kernel,
                NMS_PADDING=params.nms_kernel // 2),
    )


def run_official(parser, get_final_preds, hm, tg, geo, params: DecodeParams):
    import torch

    det = torch.from_numpy(hm)[None]
    tag = torch.from_numpy(tg)[None]
    t0 = time.perf_counter()
    grouped, scores = parser.parse(det, tag, params.adjust, params.refine)
    t1 = time.perf_counter()
    final = get_final_preds(grouped, np.array(geo.center), np.array(geo.box_scale),
                            [hm.shape[2], hm.shape[1]])
    t2 = time.perf_counter()
    k = hm.shape[0]
    keypoints = np.array([f[:, :3] for f in final], np.float32).reshape(-1, k, 3)
    return t1 - t0, t2 - t1, keypoints, np.array(scores, np.float32).reshape(-1)


def compare(ours_kp, ours_scores, off_kp, off_scores):
    same_count = len(ours_kp) == len(off_kp)
    if not same_count:
        return dict(same_count=False, max_px_diff=None, max_value_diff=None, max_score_diff=None,
                    identical=False)
    px = float(np.abs(ours_kp[..., :2] - off_kp[..., :2]).max()) if len(ours_kp) else 0.0
    val = float(np.abs(ours_kp[..., 2] - off_kp[..., 2]).max()) if len(ours_kp) else 0.0
    sc = float(np.abs(ours_scores - off_scores).max()) if len(ours_kp) else 0.0
    return dict(same_count=True, max_px_diff=px, max_value_diff=val, max_score_diff=sc,
                identical=px <= 1e-3 and val <= 1e-6 and sc <= 1e-6)


def stats(values):
    """Seconds in, the shared benchmark summary (median_ms, p90_ms, ...) out."""
    return summarize(np.asarray(values) * 1e3).to_dict()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--crowds", type=int, nargs="+", default=[1, 5, 10, 20, 30])
    ap.add_argument("--height", type=int, default=512)
    ap.add_argument("--width", type=int, default=768)
    ap.add_argument("--runs", type=int, default=20, help="timed runs of our decoder per crowd")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--official-repo", type=Path, default=None,
                    help="official SWAHR-HumanPose checkout to compare with (needs torch, munkres)")
    ap.add_argument("--official-runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path,
                    default=Path(__file__).parent / "results" / "decode_crowd.json")
    args = ap.parse_args(argv)

    params = DecodeParams()
    official = None
    if args.official_repo is not None:
        import torch

        torch.set_num_threads(1)
        parser_cls, get_final_preds = load_official(args.official_repo)
        official = (parser_cls(official_cfg(17, params)), get_final_preds)

    rows = []
    for people in args.crowds:
        hm, tg, geo, affine = make_case(people, args.height, args.width, args.seed)
        per_stage = {s: [] for s in STAGES}
        totals, totals_nocheck, cpu_totals = [], [], []
        for i in range(args.warmup + args.runs):
            stage_s, kp, scores, filled = time_ours(hm, tg, affine, params)
            t0, c0 = time.perf_counter(), time.process_time()
            poses = decode(hm, tg, affine, params=params)
            t1, c1 = time.perf_counter(), time.process_time()
            decode(hm, tg, affine, params=params, check_finite=False)
            t2 = time.perf_counter()
            if i >= args.warmup:
                for s in STAGES:
                    per_stage[s].append(stage_s[s])
                totals.append(t1 - t0)
                cpu_totals.append(c1 - c0)
                totals_nocheck.append(t2 - t1)
        assert np.array_equal(poses.keypoints, kp) and np.array_equal(poses.scores, scores)
        row = {
            "people": people, "found": len(poses), "joints_filled_by_refine": filled,
            "ours": {"total": stats(totals), "total_no_finite_check": stats(totals_nocheck),
                     "cpu_total": stats(cpu_totals),
                     **{s: stats(v) for s, v in per_stage.items()}},
        }
        if official is not None:
            parse_t, final_t, cpu_t = [], [], []
            for _ in range(args.official_runs):
                c0 = time.process_time()
                tp, tf, off_kp, off_scores = run_official(*official, hm, tg, geo, params)
                cpu_t.append(time.process_time() - c0)
                parse_t.append(tp)
                final_t.append(tf)
            off_total = np.add(parse_t, final_t)
            row["official"] = {"parse": stats(parse_t), "final_preds": stats(final_t),
                               "total": stats(off_total), "cpu_total": stats(cpu_t)}
            row["speedup"] = float(np.median(off_total) / np.median(totals))
            row["speedup_cpu"] = float(np.median(cpu_t) / np.median(cpu_totals))
            row["parity"] = compare(poses.keypoints, poses.scores, off_kp, off_scores)
        rows.append(row)
        print_row(row, header=len(rows) == 1)

    meta = {
        "machine": platform.platform(), "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
        "numpy": np.__version__, "loadavg_at_end": list(os.getloadavg()),
        "map_shape": [17, args.height, args.width, 2], "runs": args.runs,
        "official_runs": args.official_runs if official else 0,
        "threads": 1,
    }
    write_json(args.json, {"meta": meta, "rows": rows})
    print(f"\nwrote {args.json}")
    return 0


def print_row(row, header: bool) -> None:
    cols = ["people", "found", "total", "p90"] + list(STAGES) + ["cpu_total"]
    if "official" in row:
        cols += ["official", "speedup", "speedup_cpu", "identical", "max_px", "max_score"]
    if header:
        print(" ".join(f"{c:>10}" for c in cols))
    ours = row["ours"]
    vals = [row["people"], row["found"], ours["total"]["median_ms"], ours["total"]["p90_ms"]]
    vals += [ours[s]["median_ms"] for s in STAGES] + [ours["cpu_total"]["median_ms"]]
    if "official" in row:
        par = row["parity"]
        vals += [row["official"]["total"]["median_ms"], row["speedup"], row["speedup_cpu"],
                 str(par["identical"]),
                 par["max_px_diff"], par["max_score_diff"]]
    out = []
    for v in vals:
        if isinstance(v, float):
            out.append(f"{v:>10.3g}" if abs(v) < 1e-2 else f"{v:>10.2f}")
        else:
            out.append(f"{str(v):>10}")
    print(" ".join(out))


if __name__ == "__main__":
    sys.exit(main())
