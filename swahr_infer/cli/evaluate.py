"""Measure keypoint AP / AR of a model on an annotated data set (COCO or CrowdPose format).

Every image of the annotation file (--images is the folder holding them under their
'file_name') goes through the same pipeline as `swahr-infer predict`; all persons are submitted
with their scores, as in the official validation (no rescoring, no OKS-NMS).  The 10 COCO
numbers (AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl; CrowdPose: AP, AP50, AP75, AR, AR50,
AR75, AP easy / medium / hard) are printed as a table on stdout.

Scoring: xtcocotools when it imports, else pycocotools (COCO only).  CrowdPose files (14
keypoints, detected from the annotation file) need xtcocotools; with numpy 2 build it from
source:  pip install cython && pip install --no-build-isolation --no-binary xtcocotools \\
         xtcocotools==1.14.3

A missing or unreadable image is reported on stderr and scored as an image where nobody was
found; the run goes on and exits with status 0, giving the count.  Only if no image at all can
be read is the exit status 1.

examples:
  swahr-infer eval --model w32_512.onnx --ann person_keypoints_val2017.json --images val2017/
  swahr-infer eval -m w48_640.onnx --ann crowdpose_test.json --images images/ --scales 2 1 0.5
  swahr-infer eval -m tiny.onnx --ann ann.json --images imgs/ --limit 50 --out results.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..atomic_file import write_output
from .args import add_assignment, int_at_least

HELP = "measure COCO / CrowdPose keypoint AP of a model on an annotated data set"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", "-m", type=Path, default=None,
                        help="model file (.onnx); default: the model bundled with the package")
    parser.add_argument("--ann", type=Path, required=True,
                        help="COCO-format keypoint annotation file (COCO or CrowdPose)")
    parser.add_argument("--images", type=Path, required=True,
                        help="folder with the annotated images (under their file_name)")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0], metavar="S",
                        help="test scales, e.g. 2 1 0.5 (default: 1; several must include 1)")
    parser.add_argument("--input-size", type=int_at_least(32), default=None, metavar="N",
                        help="short side of the network input at scale 1 (default: the model's)")
    parser.add_argument("--no-flip", action="store_true", help="turn the flip test off")
    parser.add_argument("--limit", type=int_at_least(1), default=None, metavar="N",
                        help="evaluate only the first N images of the annotation file")
    parser.add_argument("--dataset", choices=("auto", "coco", "crowdpose"), default="auto",
                        help="scoring protocol (default: from the annotation file's keypoints)")
    parser.add_argument("--out", "-o", type=Path, default=None,
                        help="write the COCO keypoint results (JSON list) here")
    parser.add_argument("--metrics-json", type=Path, default=None, metavar="FILE",
                        help="write the metrics, counts and failures here as JSON")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="where ONNX Runtime runs (default: CUDA if available)")
    parser.add_argument("--threads", type=int_at_least(0), default=0, metavar="N",
                        help="inference threads (default 0: the backend's choice)")
    add_assignment(parser)
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (on a terminal) or status lines (elsewhere)")


def run(args: argparse.Namespace) -> int:
    from tqdm.contrib.logging import logging_redirect_tqdm

    from ..evaluate import evaluate
    from .args import check_output_file

    _check_distinct_files(args)
    check_output_file(args.out, "--out")
    check_output_file(args.metrics_json, "--metrics-json")
    with logging_redirect_tqdm():  # per-image warnings above the progress bar, not through it
        report = evaluate(args.model, args.ann, args.images, scales=args.scales,
                          flip=not args.no_flip, limit=args.limit, dataset=args.dataset,
                          results_file=args.out, progress=False if args.no_progress else None,
                          input_size=args.input_size, device=args.device,
                          threads=args.threads or None, assignment=args.assignment)
    print(report.summary())
    if report.failures:
        print(f"{len(report.failures)} image(s) could not be evaluated:", file=sys.stderr)
        for failure in report.failures:
            print(f"  {failure.file_name}: {failure.reason}", file=sys.stderr)
    if args.metrics_json:
        write_output(args.metrics_json, json.dumps({
            "dataset": report.dataset, "scorer": report.scorer,
            "metrics": report.metrics.as_dict(), "images": report.images,
            "people": report.people, "seconds": report.seconds,
            "failures": [{"file_name": f.file_name, "reason": f.reason}
                         for f in report.failures],
        }, indent=2))
    return 0


def _check_distinct_files(args: argparse.Namespace) -> None:
    """--out and --metrics-json are written after the run: neither may be the --ann file (the
    annotations would be replaced by results or metrics, and scoring would read those back),
    and they may not be one file (the metrics would silently replace the results)."""
    from ..errors import OptionError
    from ..evaluate import same_file

    for option, path in (("--out", args.out), ("--metrics-json", args.metrics_json)):
        if path is not None and same_file(path, args.ann):
            raise OptionError(f"{option} {path} is the --ann file: it would replace the "
                              "annotations; write it elsewhere")
    if args.out is not None and args.metrics_json is not None and same_file(args.out,
                                                                          args.metrics_json):
        raise OptionError(f"--out and --metrics-json name the same file ({args.out}): the "
                          "metrics would replace the results; give two files")
