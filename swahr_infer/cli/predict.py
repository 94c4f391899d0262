"""Find the poses of all people in an image, a folder of images, or a video.

INPUT may be an image file, a folder (searched recursively, files in sorted order, image
extensions only) or a video file.  With --out, annotated copies are written there (the folder
structure of INPUT is kept; a video becomes <name>_poses.mp4; an image format that cannot
hold a colour picture, like .pgm, gets .png added: a.pgm.png).  When the --out folder lies
inside the INPUT folder, its files are left out of the inputs (a second run does not annotate
the first run's pictures); an --out that would overwrite an input file is refused.  With
--json, the poses are written as COCO keypoint results (image_id = int(file stem) when every
file's stem is a number of digits 0-9 and no two are equal, as COCO names are; else the
0-based running index of each file in sorted order; for a video the frame index), with the
file name added.

A file that cannot be read is reported on stderr and skipped; the run goes on and exits with
status 1, listing the failures, at the end.  Option values and the --out / --json paths are
checked before the first image is processed.

With --ray, the images of a folder run on Ray Data (a pool of workers, one model each; a local
Ray unless --address names a cluster) and --out is the results file: Parquet for .parquet or
.pq, JSON lines (one object per line, also for .json) for .jsonl, .ndjson or .json; one row per
image with its poses, or with the reason it failed.  Needs pip install "swahr-infer[ray]".

examples:
  swahr-infer predict photo.jpg --model w32_512.onnx --out annotated/
  swahr-infer predict images/ --json results.json --scales 2 1 0.5
  swahr-infer predict clip.mp4 --out annotated/ --no-flip
  swahr-infer predict archive/ --model w32_512.onnx --ray --workers 4 --out poses.parquet
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import math
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

from ..atomic_file import write_output
from ..errors import ImageError, OptionError, OutputError
from ..image_io import image_ids, list_images
from ..progress import track
from .args import add_assignment, check_folder_can_exist, check_output_file, int_at_least

HELP = "find poses in an image, a folder of images or a video"

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="image file, folder of images, or video file (with --ray "
                        "also an s3://, gs://, hdfs:// or file:// URI of an image or a prefix)")
    parser.add_argument("--model", "-m", type=Path, default=None,
                        help="model file (.onnx); default: the model bundled with the package")
    parser.add_argument("--backend", default="auto", help="backend name (default: by suffix)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="where ONNX Runtime runs (default: CUDA if available)")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0], metavar="S",
                        help="test scales, e.g. 2 1 0.5 (default: 1; several must include 1)")
    parser.add_argument("--input-size", type=int_at_least(32), default=None, metavar="N",
                        help="short side of the network input at scale 1 (default: the model's, "
                             "e.g. 512 for W32; larger finds smaller people, at more cost)")
    parser.add_argument("--no-flip", action="store_true", help="turn the flip test off")
    parser.add_argument("--detection-threshold", type=float, default=None,
                        help="peak threshold (default: the model's, official value)")
    add_assignment(parser)
    parser.add_argument("--min-score", type=float, default=None,
                        help="drop people scoring below this (default: keep all, as official)")
    parser.add_argument("--joint-threshold", type=float, default=0.0, metavar="T",
                        help="in the --out pictures, draw only joints scoring above T (e.g. 0.3 "
                             "hides unsure joints; the JSON keeps every joint)")
    parser.add_argument("--out", "-o", type=Path, default=None,
                        help="folder for annotated images / videos; when it lies inside the "
                             "INPUT folder its files are not taken as inputs (with --ray: the "
                             "results file: .parquet or .pq for Parquet; .jsonl, .ndjson or "
                             ".json for JSON lines, one object per line)")
    parser.add_argument("--json", type=Path, default=None, help="write COCO-format results here")
    parser.add_argument("--threads", type=int, default=0,
                        help="inference threads (default 0: the backend's choice)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (on a terminal) or status lines (elsewhere)")
    ray = parser.add_argument_group(
        "scale-out on Ray Data (pip install \"swahr-infer[ray]\")")
    ray.add_argument("--ray", action="store_true",
                     help="run on Ray Data; --out is then the results file (.parquet / .pq: "
                          "Parquet; .jsonl / .ndjson / .json: JSON lines)")
    ray.add_argument("--address", default=None,
                     help="Ray cluster to join (e.g. auto, ray://head:10001); default: start a "
                          "local Ray")
    ray.add_argument("--workers", type=int, default=None,
                     help="workers, one model each (default: one per GPU, else one per CPU)")
    ray.add_argument("--gpus-per-worker", type=float, default=None, metavar="G",
                     help="GPUs per worker (default: 1 when the cluster has GPUs, else 0)")
    ray.add_argument("--batch-size", type=int, default=16, metavar="B",
                     help="images per worker call (default: 16)")
    ray.add_argument("--preserve-order", action="store_true",
                     help="write rows in input order (default: as they finish)")


def run(args: argparse.Namespace) -> int:
    from ..estimator import Estimator

    if "://" in args.input:  # kept a string: Path() would fold s3://b/k into s3:/b/k
        if not args.ray:
            raise ImageError(f"{args.input}: URIs are read with --ray only (Ray Data reads "
                             "object storage in its workers); give a local file or folder")
        _check_options(args)
        return _run_ray(args.input, args)
    source = Path(args.input)
    if not source.exists():
        raise ImageError(f"{source}: no such file or folder")
    _check_options(args)
    if args.ray:
        return _run_ray(source, args)
    # everything that can be known to fail is checked before the model loads, so that a long
    # run never ends with its results lost to a bad output path
    _check_output_paths(args)
    video = source.is_file() and source.suffix.lower() in VIDEO_SUFFIXES
    if video:
        paths, root = [source], source.parent
        outputs = [args.out / f"{source.stem}_poses.mp4"] if args.out else []
    else:
        paths, root = _input_images(source, args.out)
        outputs = [annotated_path(args.out, path.relative_to(root)) for path in paths
                   ] if args.out else []
    _check_no_overwrite(paths, outputs)
    estimator = Estimator(args.model, backend=args.backend, device=args.device,
                          scales=tuple(args.scales), flip=not args.no_flip,
                          input_size=args.input_size,
                          detection_threshold=args.detection_threshold,
                          assignment=args.assignment,
                          min_score=args.min_score, threads=args.threads or None)
    results: List[Dict] = []
    failures: List[Tuple[str, str]] = []
    if video:
        count = _run_video(estimator, source, args, results)
    else:
        count = _run_images(estimator, paths, root, args, results, failures)
    if args.json:
        write_output(args.json, json.dumps(results))
    people = len(results)
    # the same wording as the --ray summary: every input counts, the failed ones included
    print(f"{count} {'frame' if video else 'image'}(s), {people} person(s) found" +
          (f", {len(failures)} failed" if failures else ""), file=sys.stderr)
    if failures:
        print("failed:", file=sys.stderr)
        for name, reason in failures:
            print(f"  {name}: {reason}", file=sys.stderr)
        return 1
    return 0


# -- checks before the run ----------------------------------------------------------------

def _check_options(args: argparse.Namespace) -> None:
    """Refuse option values that would silently give wrong or empty results.

    A NaN threshold compares false with every score, so ``--min-score nan`` would drop every
    person and ``--joint-threshold nan`` hide every joint, with exit status 0.
    """
    for option, value in (("--min-score", args.min_score),
                          ("--joint-threshold", args.joint_threshold)):
        if value is not None and not math.isfinite(value):
            raise OptionError(f"{option} must be a finite number, not {value}")
    if args.threads < 0:
        raise OptionError(f"--threads must be 0 (the backend's choice) or a positive count, "
                          f"not {args.threads}")


def _check_output_paths(args: argparse.Namespace) -> None:
    """--out must be (or become) a folder and --json a file in a folder that can exist.

    Otherwise the run would fail only when it first writes: after the first image or frame
    for --out, after the whole run, losing every result, for --json.
    """
    if args.out is not None:
        if args.out.exists() and not args.out.is_dir():
            raise OptionError(f"--out {args.out}: is a file; --out names the folder for the "
                              "annotated images")
        check_folder_can_exist(args.out, "--out", args.out)
    check_output_file(args.json, "--json")


def _input_images(source: Path, out: Optional[Path]) -> Tuple[List[Path], Path]:
    """The image files of INPUT and the folder their output names are relative to.

    When --out lies inside the INPUT folder (not the folder itself), the files under --out are
    left out: they are annotated copies from an earlier run, and taking them as inputs would
    annotate the drawn skeletons again, one folder deeper each run.
    """
    if source.is_file():
        return [source], source.parent
    paths = list_images(source)
    if out is not None:
        out_dir, source_dir = out.resolve(), source.resolve()
        if out_dir != source_dir and _is_inside(out_dir, source_dir):
            paths = [path for path in paths if not _is_inside(path.resolve(), out_dir)]
    if not paths:
        raise ImageError(f"{source}: no image files found")
    return paths, source


def _is_inside(path: Path, folder: Path) -> bool:
    try:  # Path.is_relative_to needs Python 3.9
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def _check_no_overwrite(inputs: List[Path], outputs: List[Path]) -> None:
    """Refuse to start when an output file would replace an input file.

    Files are compared by (device, inode), not by name: that also catches symlinks, hard
    links and case-insensitive file systems.  An output that does not exist yet cannot be an
    input, so only existing ones are looked at.
    """
    identities = {}
    for path in inputs:
        try:
            stat = path.stat()
        except OSError:  # vanished since the listing: reported when it is read
            continue
        identities[(stat.st_dev, stat.st_ino)] = path
    for path in outputs:
        try:
            stat = path.stat()
        except OSError:
            continue
        source = identities.get((stat.st_dev, stat.st_ino))
        if source is not None:
            raise OptionError(f"--out: the annotated copy {path} would overwrite the input "
                              f"file {source}; choose an --out folder apart from the inputs")


# -- Ray Data ---------------------------------------------------------------------------------

def _run_ray(source: Union[Path, str], args: argparse.Namespace) -> int:
    """``--ray``: delegate to :func:`swahr_infer.batch.run_batch`, then report like the rest.
    ``source``: a local path, or a URI string (listed and read by the workers)."""
    from ..batch import check_pool, init_ray, results_format, run_batch

    if args.joint_threshold:  # it acts on the annotated pictures, which --ray does not draw
        print("swahr-infer predict: warning: --joint-threshold has no effect with --ray (no "
              "annotated images are drawn; the rows keep every joint's score)", file=sys.stderr)
    if isinstance(source, Path) and source.is_file() and source.suffix.lower() in VIDEO_SUFFIXES:
        raise ImageError(f"{source}: videos are not supported with --ray (give a folder of "
                         "frames)")
    try:
        if args.out is None or args.json is not None:
            raise ValueError("with --ray, name the results file with --out results.parquet "
                             "or --out results.jsonl (and no --json)")
        results_format(args.out)
    except ValueError as exc:
        print(f"swahr-infer predict: error: {exc}", file=sys.stderr)
        return 2
    # before a local Ray starts (seconds) and the job runs (hours): a results path that is a
    # folder would lose every result at the final write
    check_pool(workers=args.workers, gpus_per_worker=args.gpus_per_worker,
               cpus_per_worker=max(1, args.threads), batch_size=args.batch_size, flags=True)
    check_output_file(args.out, "--out")
    num_cpus = None
    if not args.address and args.workers:  # a local Ray just big enough for the pool
        num_cpus = args.workers * max(1, args.threads)
    ray = init_ray(args.address, num_cpus=num_cpus)
    try:
        summary = run_batch(
            source, args.out, args.model, preserve_order=args.preserve_order,
            progress=not args.no_progress, workers=args.workers,
            gpus_per_worker=args.gpus_per_worker, cpus_per_worker=max(1, args.threads),
            batch_size=args.batch_size, backend=args.backend, scales=tuple(args.scales),
            flip=not args.no_flip, input_size=args.input_size,
            detection_threshold=args.detection_threshold, min_score=args.min_score,
            **({} if args.assignment is None else {"assignment": args.assignment}),
            **({} if args.device == "auto" else {"device": args.device}))
    except ray.exceptions.RayError as exc:  # e.g. a worker could not load the model
        if getattr(args, "verbose", False):
            raise
        print(f"swahr-infer predict: error: the Ray job failed: {_last_line(exc)}",
              file=sys.stderr)
        return 1
    failed = summary.failures
    print(f"{summary.images} image(s), {summary.persons} person(s) found"
          + (f", {len(failed)} failed" if failed else "")
          + f" ({summary.images_per_second:.1f} images/s) -> {summary.out}", file=sys.stderr)
    if failed:
        print("failed:", file=sys.stderr)
        for path, reason in failed[:20]:
            print(f"  {path}: {reason}", file=sys.stderr)
        if len(failed) > 20:
            print(f"  ... {len(failed) - 20} more: rows with an error in {summary.out}",
                  file=sys.stderr)
        return 1
    return 0


def _last_line(exc: BaseException) -> str:
    """The innermost message of a Ray error (its text ends with the original exception)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


# -- images -----------------------------------------------------------------------------------

def _run_images(estimator, paths: List[Path], root: Path, args, results: List[Dict],
                failures: List[Tuple[str, str]]) -> int:
    """Predict every file of ``paths``; returns how many there were, failed ones included."""
    from tqdm import tqdm

    from ..image_io import read_file

    ids = image_ids(paths)  # decided on all files at once, so that they are unique
    shown = track(paths, desc="predict", unit="img", enabled=False if args.no_progress else None)
    for path, image_id in zip(shown, ids):
        name = path.relative_to(root).as_posix()
        try:
            image = read_file(path)
            poses = estimator.predict(image)
        except (ImageError, OutputError) as exc:
            message = str(exc)
            if message.startswith(f"{path}: "):  # read errors already name the file
                message = message[len(f"{path}: "):]
            # tqdm.write prints above the progress bar instead of onto its line
            tqdm.write(f"swahr-infer predict: skipping {name}: {message}", file=sys.stderr)
            failures.append((name, message))
            continue
        for entry in poses.to_coco(image_id):
            entry["file_name"] = name
            results.append(entry)
        if args.out:
            target = annotated_path(args.out, path.relative_to(root))
            try:
                _write_image(target, poses.plot(image, min_score=args.joint_threshold))
            except (ImageError, OSError) as exc:  # its poses are kept; the next file goes on
                tqdm.write(f"swahr-infer predict: {name}: annotated image not written: {exc}",
                           file=sys.stderr)
                failures.append((name, f"annotated image not written: {exc}"))
    return len(paths)


def annotated_path(out: Path, relative: Path) -> Path:
    """Where the annotated copy of the input ``relative`` (to INPUT) goes under ``out``.

    The same name, unless OpenCV cannot write a colour image with that extension (.pgm and .pbm
    hold gray or 1-bit pictures only; .jp2 or .webp where this OpenCV lacks the codec): then
    ``.png`` is added (``a.pgm`` -> ``a.pgm.png``), which cannot clash with another input's
    output, rather than the image being dropped after its poses were found.
    """
    target = out / relative
    return target if _colour_encodable(target.suffix.lower()) else target.with_name(
        target.name + ".png")


@functools.lru_cache(maxsize=None)
def _colour_encodable(suffix: str) -> bool:
    import cv2

    if not suffix:
        return False
    logging_ = cv2.utils.logging
    level = logging_.getLogLevel()
    logging_.setLogLevel(logging_.LOG_LEVEL_SILENT)  # a refusing codec logs an [ERROR] line
    try:  # a 2x2 BGR probe: what the codec takes is only known by asking this OpenCV build
        ok, _ = cv2.imencode(suffix, np.zeros((2, 2, 3), np.uint8))
    except cv2.error:
        return False
    finally:
        logging_.setLogLevel(level)
    return bool(ok)


def _write_image(path: Path, image: np.ndarray) -> None:
    """cv2.imencode + tofile: works for non-ASCII paths too."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        ok, data = cv2.imencode(path.suffix or ".png", image)
    except cv2.error as exc:
        raise ImageError(f"{path}: OpenCV cannot encode it: {getattr(exc, 'err', '') or exc}"
                         ) from None
    if not ok:
        raise ImageError(f"{path}: cannot encode an image with this extension")
    data.tofile(str(path))


# -- video ------------------------------------------------------------------------------------

def _frames(path: Path) -> Iterator[np.ndarray]:
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ImageError(f"{path}: cannot be opened as a video")
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield frame
    finally:
        capture.release()


def _video_properties(path: Path) -> Tuple[float, int]:
    import cv2

    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    capture.release()
    return fps, frames


def _open_writer(path: Path, fps: float, size: Tuple[int, int]):
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise ImageError(f"{path}: OpenCV cannot write an mp4v video here")
    return writer


def _run_video(estimator, path: Path, args, results: List[Dict]) -> int:
    fps, total = _video_properties(path)
    writer: Optional[object] = None
    out_path = args.out / f"{path.stem}_poses.mp4" if args.out else None
    count = 0
    try:
        for index, frame in enumerate(track(_frames(path), desc="predict", unit="frame",
                                            total=total or None,
                                            enabled=False if args.no_progress else None)):
            poses = estimator.predict(frame)
            for entry in poses.to_coco(index):
                entry["file_name"] = path.name
                entry["frame"] = index
                results.append(entry)
            if out_path is not None:
                if writer is None:
                    writer = _open_writer(out_path, fps, (frame.shape[1], frame.shape[0]))
                writer.write(poses.plot(frame, min_score=args.joint_threshold))
            count += 1
    finally:
        if writer is not None:
            writer.release()
    if count == 0:
        raise ImageError(f"{path}: no frame could be read")
    return count
