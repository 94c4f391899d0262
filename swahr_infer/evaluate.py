"""Keypoint AP / AR of a model on an annotated data set in COCO format (COCO or CrowdPose).

One call runs the :class:`~swahr_infer.estimator.Estimator` over every image of an annotation
file, collects COCO keypoint results and scores them with the OKS-based COCO evaluation:

    >>> from swahr_infer.evaluate import evaluate
    >>> report = evaluate("w32_512.onnx", "person_keypoints_val2017.json", "val2017/")
    >>> report.metrics.ap, report.metrics.ar

The protocol is the official validation's (``tools/dist_valid.py`` with ``COCODataset`` /
``CrowdPoseDataset.evaluate``): every person found is submitted with its score, with no rescoring
and no OKS-NMS; ``image_id`` comes from the annotation file; ``category_id`` is the person
category's id (1 in COCO and CrowdPose); ``keypoints`` are (x, y, score) x K flattened.

**Scoring library (a decision, see README "Evaluate").**  xtcocotools when it can be imported,
else pycocotools:

* xtcocotools is the only maintained package with both ``'keypoints'`` (COCO, same numbers as
  pycocotools) and ``'keypoints_crowd'`` (CrowdPose: its sigmas, its 0.53 x box-area OKS scale
  instead of a segmentation area, and the easy / medium / hard split by the images'
  ``crowdIndex``), so one library gives both data sets' official numbers.  Its 1.14.3 wheels on
  PyPI are built against numpy 1.x and fail at import under numpy 2 ("numpy.dtype size
  changed"); built from source it works with numpy 2 (:data:`XTCOCOTOOLS_INSTALL`).  An
  import that fails for that reason counts as "not installed".
* pycocotools (>= 2.0.8 has numpy 2 wheels; the ``eval`` extra) scores COCO only.  CrowdPose
  without a working xtcocotools raises :class:`~swahr_infer.errors.MissingDependencyError`
  saying how to build it.

The data set is told by the annotation file's person category: 14 keypoints (CrowdPose's
joint names) -> CrowdPose, 17 -> COCO; ``dataset=`` overrides it.

An image that is missing or cannot be decoded is logged (one line), listed in
:attr:`EvalReport.failures` and scored as an image where nobody was found, so the numbers
always cover the whole (``limit``-ed) image set and are never raised by skipping hard or
absent images.  Only when *every* image fails is that an error (:class:`ImageError`).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field, fields
from importlib import import_module
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from .atomic_file import write_output
from .checks import is_finite_number, is_int
from .errors import AnnotationError, ImageError, MissingDependencyError, ModelError, OptionError, OutputError
from .skeleton import CROWDPOSE, LAYOUTS, Layout

log = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

DATASETS = ("coco", "crowdpose")

#: builds xtcocotools against the installed numpy (its PyPI wheels need numpy 1.x)
XTCOCOTOOLS_INSTALL = ("pip install cython && pip install --no-build-isolation "
                       "--no-binary xtcocotools xtcocotools==1.14.3")


# -- metrics ----------------------------------------------------------------------------------

def _metric(label: str):
    return field(metadata={"label": label})


@dataclass(frozen=True)
class _Metrics:
    def as_dict(self) -> Dict[str, float]:
        """label -> value, in the order the scoring libraries print them."""
        return {f.metadata["label"]: getattr(self, f.name) for f in fields(self)}

    def table(self) -> str:
        """A two-row Markdown table; a value of -1 (not defined on this data) shows as ``-``."""
        items = self.as_dict()
        width = max(7, *(len(k) + 2 for k in items))
        cells = [f"{v:.3f}" if v >= 0 else "-" for v in items.values()]
        line = lambda row: "|" + "|".join(c.center(width) for c in row) + "|"  # noqa: E731
        return "\n".join([line(items), line(["-" * (width - 2)] * len(items)), line(cells)])


@dataclass(frozen=True)
class CocoMetrics(_Metrics):
    """The 10 COCO keypoint numbers of ``COCOeval.summarize`` (OKS, up to 20 people per image).

    AP / AR averaged over OKS 0.50:0.05:0.95, at 0.50 and at 0.75, and over medium
    (32^2..96^2 px area) and large (> 96^2) people only.  -1 where the data has no
    ground-truth person in that range (the libraries' convention).
    """

    ap: float = _metric("AP")
    ap50: float = _metric("AP50")
    ap75: float = _metric("AP75")
    ap_medium: float = _metric("APm")
    ap_large: float = _metric("APl")
    ar: float = _metric("AR")
    ar50: float = _metric("AR50")
    ar75: float = _metric("AR75")
    ar_medium: float = _metric("ARm")
    ar_large: float = _metric("ARl")


@dataclass(frozen=True)
class CrowdPoseMetrics(_Metrics):
    """The 9 CrowdPose numbers of xtcocotools' ``'keypoints_crowd'`` summary.

    AP / AR over OKS 0.50:0.05:0.95, at 0.50 and 0.75, and AP on the easy / medium / hard
    images (``crowdIndex`` < 0.2, < 0.8, >= 0.8).  The three are -1 when the annotation file's
    images have no ``crowdIndex``.
    """

    ap: float = _metric("AP")
    ap50: float = _metric("AP50")
    ap75: float = _metric("AP75")
    ar: float = _metric("AR")
    ar50: float = _metric("AR50")
    ar75: float = _metric("AR75")
    ap_easy: float = _metric("AP(E)")
    ap_medium: float = _metric("AP(M)")
    ap_hard: float = _metric("AP(H)")


Metrics = Union[CocoMetrics, CrowdPoseMetrics]


@dataclass(frozen=True)
class ImageFailure:
    """An annotated image that could not be evaluated, and why."""

    file_name: str
    reason: str


@dataclass
class EvalReport:
    """What :func:`evaluate` measured.

    Attributes:
        metrics: the AP / AR numbers (:class:`CocoMetrics` or :class:`CrowdPoseMetrics`).
        dataset: "coco" or "crowdpose".
        scorer: the scoring library and its version, e.g. "xtcocotools 1.14.3".
        images: number of images evaluated (after ``limit``), failed ones included.
        failures: the images that could not be read or decoded (scored as "nobody found").
        results: the COCO keypoint results submitted to the scorer.
        seconds: wall time of the predictions.
    """

    metrics: Metrics
    dataset: str
    scorer: str
    images: int
    failures: List[ImageFailure]
    results: List[Dict[str, Any]]
    seconds: float

    @property
    def people(self) -> int:
        return len(self.results)

    def summary(self) -> str:
        """Counts, scorer and the metrics table, as the CLI prints them."""
        failed = f", {len(self.failures)} failed (scored as nobody found)" if self.failures else ""
        head = (f"{self.images} image(s){failed}, {self.people} person(s) found in "
                f"{self.seconds:.1f} s; {self.dataset} keypoints scored by {self.scorer}")
        return head + "\n" + self.metrics.table()


# -- annotation files -------------------------------------------------------------------------

# what the scorers read of each ground-truth person (OKS: keypoints, the COCO area, and bbox for
# people with no labelled joint; num_keypoints marks those as ignored)
_GT_FIELDS = ("image_id", "keypoints", "num_keypoints", "bbox")


def _read_json(path: Path) -> Any:
    """A JSON file's contents; invalid JSON is an :class:`AnnotationError` naming the file."""
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"{path}: not valid JSON ({exc})") from None


def load_annotations(path: PathLike) -> Dict[str, Any]:
    """The annotation file as a dict, checked for the parts evaluation needs."""
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise AnnotationError(f"{path}: not a COCO-format annotation file (no 'images' list)")
    for key in ("annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise AnnotationError(f"{path}: not a COCO-format annotation file (no '{key}' list)")
    for key in ("images", "annotations", "categories"):  # else raw TypeErrors further on
        wrong = next((i for i, entry in enumerate(data[key]) if not isinstance(entry, dict)), None)
        if wrong is not None:
            raise AnnotationError(f"{path}: {key}[{wrong}] is not a JSON object: "
                                  f"{data[key][wrong]!r}"[:300])
    ids = set()
    for image in data["images"]:
        if "id" not in image or "file_name" not in image:
            raise AnnotationError(f"{path}: an image entry lacks 'id' or 'file_name': {image}")
        if not is_int(image["id"]):
            raise AnnotationError(f"{path}: image ids must be integers (COCO results carry them "
                                  f"as numbers), not {image['id']!r}")
        if image["id"] in ids:
            raise AnnotationError(f"{path}: image id {image['id']} is listed twice")
        ids.add(image["id"])
    return data


def _check_people(data: Dict[str, Any], dataset: str, path: PathLike) -> None:
    """Every ground-truth person has what the scorer reads, checked before predicting."""
    needed = _GT_FIELDS + (("area",) if dataset == "coco" else ())  # CrowdPose scores without area
    for ann in data["annotations"]:
        missing = [key for key in needed if key not in ann]
        if missing:
            raise AnnotationError(f"{path}: annotation {ann.get('id', '?')} lacks "
                                  f"{', '.join(repr(m) for m in missing)}, which {dataset} OKS "
                                  "scoring needs")


def person_category(data: Dict[str, Any]) -> Dict[str, Any]:
    """The category with keypoints (the person category)."""
    for category in data["categories"]:
        if category.get("keypoints"):
            return category
    raise AnnotationError("no category with 'keypoints' in the annotation file: "
                          "not a keypoint annotation file")


def detect_dataset(data: Dict[str, Any]) -> str:
    """"coco" or "crowdpose", from the person category's keypoint names (their count, when the
    names are neither data set's)."""
    names = tuple(person_category(data)["keypoints"])
    for layout in LAYOUTS.values():
        if names == layout.joint_names:
            return layout.name
    for layout in LAYOUTS.values():
        if len(names) == layout.num_joints:
            log.info("keypoint names are not %s's but their number (%d) is", layout.name,
                     len(names))
            return layout.name
    raise AnnotationError(f"the person category has {len(names)} keypoints; evaluation knows "
                          f"COCO (17) and CrowdPose (14)")


def _subset(data: Dict[str, Any], image_ids: Sequence[int]) -> Dict[str, Any]:
    """``data`` restricted to ``image_ids`` (images and their annotations)."""
    keep = set(image_ids)
    out = dict(data)
    out["images"] = [im for im in data["images"] if im["id"] in keep]
    out["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
    return out


# -- scoring ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScoringAPI:
    """The COCO / COCOeval classes of one scoring library, with the settings for a data set."""

    name: str  # library and version
    coco: Any  # the COCO class
    cocoeval: Any  # the COCOeval class
    iou_type: str  # "keypoints" or "keypoints_crowd"
    eval_options: Dict[str, Any]

    def make_eval(self, gt, dt):
        return self.cocoeval(gt, dt, self.iou_type, **self.eval_options)


def _import_scorer(package: str) -> Tuple[Any, Any, str]:
    coco = import_module(f"{package}.coco").COCO
    cocoeval = import_module(f"{package}.cocoeval").COCOeval
    try:
        from importlib.metadata import version

        name = f"{package} {version(package)}"
    except Exception:  # noqa: BLE001 - the version is only for the report
        name = package
    return coco, cocoeval, name


def scoring_api(dataset: str) -> ScoringAPI:
    """The library that scores ``dataset`` here (see the module docstring for the choice).

    Raises MissingDependencyError when neither library is usable (COCO) or xtcocotools is not
    (CrowdPose).
    """
    import numpy as np

    if dataset not in DATASETS:
        raise OptionError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    try:
        coco, cocoeval, name = _import_scorer("xtcocotools")
    except (ImportError, ValueError) as exc:  # ValueError: a numpy-1 wheel under numpy 2
        xtcocotools_error = exc
    else:
        if dataset == "crowdpose":
            # CrowdPose's own tools scale OKS by 0.53 x box area (its files have no 'area')
            options = {"sigmas": np.array(CROWDPOSE.sigmas), "use_area": False}
            return ScoringAPI(name, coco, cocoeval, "keypoints_crowd", options)
        # sigmas left to the library: its COCO defaults, as pycocotools
        return ScoringAPI(name, coco, cocoeval, "keypoints", {})
    log.debug("xtcocotools unusable (%s); trying pycocotools", xtcocotools_error)
    if dataset == "crowdpose":
        install = XTCOCOTOOLS_INSTALL
        if not isinstance(xtcocotools_error, ModuleNotFoundError):
            install = (f"it is installed but does not import ({xtcocotools_error}); "
                       f"rebuild it: {install}")
        raise MissingDependencyError("xtcocotools", "eval", "CrowdPose evaluation",
                                     install=install) from None
    try:
        coco, cocoeval, name = _import_scorer("pycocotools")
    except ImportError:
        raise MissingDependencyError("pycocotools (or xtcocotools)", "eval",
                                     "COCO evaluation") from None
    return ScoringAPI(name, coco, cocoeval, "keypoints", {})


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The scoring libraries print progress; keep it out of stdout, in the debug log."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield
    if buffer.getvalue().strip():
        log.debug("scorer output:\n%s", buffer.getvalue().rstrip())


def _load_results(api: ScoringAPI, gt, results: Sequence[Dict[str, Any]]):
    if results:
        return gt.loadRes(copy.deepcopy(list(results)))  # loadRes adds fields in place
    empty = api.coco()  # pycocotools' loadRes cannot take an empty list
    empty.dataset = {"images": list(gt.dataset["images"]), "annotations": [],
                     "categories": copy.deepcopy(gt.dataset["categories"])}
    empty.createIndex()
    return empty


def _summarize(evaluator, dataset: str, data: Dict[str, Any]) -> Metrics:
    if dataset == "coco":
        evaluator.summarize()
        return CocoMetrics(*(float(v) for v in evaluator.stats[:10]))
    if all("crowdIndex" in image for image in data["images"]):
        evaluator.summarize()
        return CrowdPoseMetrics(*(float(v) for v in evaluator.stats[:9]))
    # no crowd index: the crowd summary cannot split easy / medium / hard.  The plain keypoint
    # summary reads the same accumulated arrays (same OKS, same 20 detections, all areas) for
    # AP, AP50, AP75, AR, AR50, AR75.
    log.warning("the annotation file's images have no 'crowdIndex': AP easy / medium / hard "
                "are not computed")
    evaluator.params.iouType = "keypoints"
    evaluator.summarize()
    s = [float(v) for v in evaluator.stats]
    return CrowdPoseMetrics(s[0], s[1], s[2], s[5], s[6], s[7], -1.0, -1.0, -1.0)


def _resolve_dataset(data: Dict[str, Any], dataset: Optional[str],
                     annotation_file: PathLike) -> Layout:
    """The layout of ``dataset`` ("auto" or None: told by the file), checked against the file's
    keypoint count: scoring CrowdPose's 14 joints against 17-joint COCO people (or the other way
    round) would otherwise fail inside the scorer with a numpy broadcast error."""
    if dataset is None or dataset == "auto":
        dataset = detect_dataset(data)
    layout = LAYOUTS[dataset] if dataset in LAYOUTS else None
    if layout is None:
        raise OptionError(f"dataset must be 'auto' or one of {DATASETS}, got {dataset!r}")
    found = len(person_category(data)["keypoints"])
    if found != layout.num_joints:
        raise AnnotationError(f"{annotation_file}: {found} keypoints per person, but {dataset} "
                              f"has {layout.num_joints}")
    return layout


def _check_image_ids(data: Dict[str, Any], image_ids: Any, annotation_file: PathLike) -> List[int]:
    """``image_ids`` as a list, each an image id of the file.  The scorers would otherwise stop
    with a bare ``AssertionError`` ("Results do not correspond to current coco set") or score an
    empty set."""
    if isinstance(image_ids, (str, bytes)) or not isinstance(image_ids, Iterable):
        raise OptionError(f"image_ids must be a list of integer image ids, not {image_ids!r}")
    ids = list(image_ids)
    if not ids:
        raise OptionError("image_ids is empty: there is nothing to score (None scores every "
                          "image of the file)")
    wrong = [i for i in ids if not is_int(i)]
    if wrong:
        raise OptionError(f"image_ids must be integers (as in the annotation file), got "
                          f"{wrong[0]!r}")
    known = {image["id"] for image in data["images"]}
    unknown = [i for i in dict.fromkeys(ids) if i not in known]
    if unknown:
        more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        raise OptionError(f"image_ids: {', '.join(str(i) for i in unknown[:3])}{more} not in "
                          f"{annotation_file}")
    return ids


def _read_results(results: Any) -> List[Any]:
    """``results`` as a list: a sequence of entries, or the path of a COCO results JSON file
    (a JSON list, as ``evaluate(..., results_file=)`` and the official tools write)."""
    if isinstance(results, (str, os.PathLike)):
        path = Path(results)
        loaded = _read_json(path)
        if not isinstance(loaded, list):
            raise AnnotationError(f"{path}: not a COCO results file (a JSON list of "
                                  f"{{image_id, category_id, keypoints, score}} entries)")
        return loaded
    if isinstance(results, (bytes, dict)) or not isinstance(results, Iterable):
        raise OptionError("results must be a list of COCO keypoint results or the path of a "
                          f"COCO results JSON file, not {type(results).__name__}")
    return list(results)


_RESULT_KEYS = ("image_id", "category_id", "keypoints", "score")


def _check_results(results: List[Any], data: Dict[str, Any], num_joints: int,
                   annotation_file: PathLike) -> None:
    """Every entry is one the scorers can take, checked before scoring: they would otherwise
    fail with an ``AssertionError`` (an image id not in the file, or given as a string), a
    ``KeyError`` (a missing field) or a numpy broadcast error (a wrong keypoint count), none
    of them naming the entry.  Messages name the entry by its position, ``results[i]``."""
    known = {image["id"] for image in data["images"]}
    category = person_category(data)["id"]
    for i, entry in enumerate(results):
        if not isinstance(entry, dict):
            raise AnnotationError(f"results[{i}] is not a dict with {', '.join(_RESULT_KEYS)}: "
                                  f"{entry!r}"[:300])
        missing = [key for key in _RESULT_KEYS if key not in entry]
        if missing:
            raise AnnotationError(f"results[{i}] (image_id {entry.get('image_id', '?')!r}) lacks "
                                  f"{', '.join(repr(m) for m in missing)}")
        image_id = entry["image_id"]
        if not is_int(image_id):
            raise AnnotationError(f"results[{i}]: image_id must be an integer (the annotation "
                                  f"file's ids are), not {image_id!r}")
        if image_id not in known:
            raise AnnotationError(f"results[{i}]: image_id {image_id} is not an image of "
                                  f"{annotation_file}")
        if entry["category_id"] != category:
            raise AnnotationError(f"results[{i}] (image_id {image_id}): category_id "
                                  f"{entry['category_id']!r} is not the person category "
                                  f"({category}); the scorer would ignore it")
        score_ = entry["score"]
        if not is_finite_number(score_):
            raise AnnotationError(f"results[{i}] (image_id {image_id}): score must be a finite "
                                  f"number, not {score_!r}")
        keypoints = entry["keypoints"]
        sized = hasattr(keypoints, "__len__") and not isinstance(keypoints, (str, bytes, dict))
        if not sized or len(keypoints) != 3 * num_joints:
            count = len(keypoints) if sized else type(keypoints).__name__
            raise AnnotationError(f"results[{i}] (image_id {image_id}): keypoints must be "
                                  f"{3 * num_joints} numbers (x, y, score for {num_joints} "
                                  f"joints), got {count}")
    if not results:
        return
    # values one array at a time (a COCO val set has ~10^6); the slow search only on failure
    try:
        values = np.asarray([entry["keypoints"] for entry in results])
        good = values.dtype.kind in "iuf" and bool(np.isfinite(values).all())
    except (TypeError, ValueError):
        good = False
    if good:
        return
    for i, entry in enumerate(results):
        bad = [v for v in entry["keypoints"] if not is_finite_number(v)]
        if bad:
            raise AnnotationError(f"results[{i}] (image_id {entry['image_id']}): keypoints "
                                  f"must be finite numbers, got {bad[0]!r}")


def score(annotation_file: PathLike, results: Union[PathLike, Sequence[Dict[str, Any]]], *,
          dataset: Optional[str] = None,
          image_ids: Optional[Sequence[int]] = None) -> Metrics:
    """Score COCO keypoint ``results`` against ``annotation_file``.

    Args:
        results: entries ``{"image_id", "category_id", "keypoints": [x, y, s] * K, "score"}``,
            or the path of a COCO results JSON file holding such a list.
        dataset: "coco" or "crowdpose"; default (None or "auto") from the annotation file.
        image_ids: score on these images only (default all images of the file): their
            ground truth and, for CrowdPose, their easy / medium / hard split.  Results on
            other images of the file are left out.

    Raises:
        AnnotationError: an unusable annotation file, or a result entry the scorer cannot take
            (an image id not in the file, a missing field, a wrong keypoint count, ...); the
            message names the entry (``results[i]``).  Checked before scoring, as the scoring
            libraries would fail with bare ``AssertionError`` / ``KeyError`` / numpy errors.
        OptionError: an unknown ``dataset``; ``image_ids`` empty or naming an image not in
            the file; ``results`` neither a list nor a path.
        MissingDependencyError: no scoring library for this data set.
    """
    data = load_annotations(annotation_file)
    layout = _resolve_dataset(data, dataset, annotation_file)
    dataset = layout.name
    _check_people(data, dataset, annotation_file)
    results = _read_results(results)
    if image_ids is not None:
        image_ids = _check_image_ids(data, image_ids, annotation_file)
    _check_results(results, data, layout.num_joints, annotation_file)
    api = scoring_api(dataset)
    with contextlib.ExitStack() as stack:
        path = str(annotation_file)
        if image_ids is not None and len(set(image_ids)) < len(data["images"]):
            data = _subset(data, image_ids)
            keep = set(image_ids)
            results = [entry for entry in results if entry["image_id"] in keep]
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="swahr_eval_"))
            path = os.path.join(folder, "annotations.json")
            with open(path, "w") as f:  # xtcocotools re-reads the file for the crowd split
                json.dump(data, f)
        with _quiet():
            gt = api.coco(path)
            evaluator = api.make_eval(gt, _load_results(api, gt, results))
            evaluator.evaluate()
            evaluator.accumulate()
            return _summarize(evaluator, dataset, data)


# -- prediction -------------------------------------------------------------------------------

def predict_images(estimator, images: Sequence[Dict[str, Any]], image_dir: PathLike, *,
                   category_id: int = 1, progress: Optional[bool] = None,
                   ) -> Tuple[List[Dict[str, Any]], List[ImageFailure]]:
    """Run ``estimator`` on each annotated image (``image_dir / file_name``).

    Returns (COCO keypoint results, failures).  A file that is missing or cannot be decoded,
    or whose network outputs cannot be decoded, is logged and listed, and the loop goes on.
    ``progress``: a tqdm bar (None: on a terminal; elsewhere status lines, see
    :mod:`swahr_infer.progress`; False: nothing).
    """
    from .image_io import read_file
    from .progress import track

    image_dir = Path(image_dir)
    results: List[Dict[str, Any]] = []
    failures: List[ImageFailure] = []
    for image in track(images, desc="eval", unit="img", enabled=progress):
        name = image["file_name"]
        path = image_dir / name
        try:
            poses = estimator.predict(read_file(path))
        except (ImageError, OutputError) as exc:
            reason = str(exc)
            if reason.startswith(f"{path}: "):  # read errors name the file already
                reason = reason[len(f"{path}: "):]
            log.warning("skipping %s: %s", name, reason)
            failures.append(ImageFailure(name, reason))
            continue
        results.extend(poses.to_coco(image["id"], category_id))
    return results, failures


def same_file(first: PathLike, second: PathLike) -> bool:
    """True when two paths name one file: the same resolved path (also for files that do not
    exist yet), or for existing files the same (device, inode), which also catches hard links
    and case-insensitive file systems."""
    first, second = Path(first), Path(second)
    try:
        if os.path.samefile(first, second):
            return True
    except OSError:  # one of them does not exist (yet)
        pass
    return first.resolve() == second.resolve()


def _check_model(estimator, layout: Layout, annotation_file: PathLike) -> None:
    info = estimator.info
    if info.num_joints != layout.num_joints:
        raise ModelError(f"the model finds {info.num_joints} joints ({info.dataset}) but "
                         f"{annotation_file} is a {layout.name} file with {layout.num_joints}")


def evaluate(model, annotation_file: PathLike, image_dir: PathLike, *,
             scales: Optional[Sequence[float]] = None, flip: Optional[bool] = None,
             limit: Optional[int] = None, dataset: str = "auto",
             results_file: Optional[PathLike] = None, progress: Optional[bool] = None,
             **estimator_options) -> EvalReport:
    """Predict every annotated image and score the results (see the module docstring).

    Args:
        model: a model file (None: the bundled model) or an
            :class:`~swahr_infer.estimator.Estimator`, used as it is.
        annotation_file: COCO-format keypoint annotations (COCO or CrowdPose).
        image_dir: folder holding the images under their ``file_name``.
        scales, flip: test scales and flip test (default: the Estimator's, i.e. (1.0,) and on).
        limit: only the first ``limit`` images of the annotation file.
        dataset: "auto" (from the file), "coco" or "crowdpose".
        results_file: also write the COCO results there (JSON list); never the annotation
            file itself (refused before predicting).
        progress: tqdm progress bar (None: on a terminal; elsewhere a status line every ~5 %;
            False: neither).
        **estimator_options: passed to the Estimator (threads, device, ...).

    Raises:
        MissingDependencyError: no scoring library for this data set (checked before predicting).
        AnnotationError, ModelError: an unusable annotation file; a model with another joint
            count.
        ImageError: not one image could be evaluated.
        OptionError: ``results_file`` is the annotation file.
    """
    from .estimator import Estimator

    if results_file is not None and same_file(results_file, annotation_file):
        # the results would replace the ground truth, and scoring would then read them back
        raise OptionError(f"results_file {results_file} is the annotation file "
                          f"{annotation_file}: writing the results there would replace the "
                          "annotations; choose another file")
    if results_file is not None:  # a folder or an impossible path: now, not after predicting
        from .cli.args import check_output_file

        check_output_file(Path(results_file), "results_file")
    if limit is not None and not is_int(limit):
        raise OptionError(f"limit must be a whole number of images or None, not {limit!r}")
    data = load_annotations(annotation_file)
    layout = _resolve_dataset(data, dataset, annotation_file)
    dataset = layout.name
    _check_people(data, dataset, annotation_file)
    api = scoring_api(dataset)  # fail before the long part, not after it

    images = data["images"] if limit is None else data["images"][:max(0, limit)]
    if not images:
        raise AnnotationError(f"{annotation_file}: no images to evaluate")
    if not Path(image_dir).is_dir():
        raise ImageError(f"{image_dir}: no such folder (--images: the folder holding the images "
                         f"named in {Path(annotation_file).name})")
    if isinstance(model, Estimator):
        if scales is not None or flip is not None or estimator_options:
            raise OptionError("pass scales, flip and Estimator options to the Estimator itself")
        estimator = model
    else:
        options = dict(estimator_options)
        if scales is not None:
            options["scales"] = tuple(scales)
        if flip is not None:
            options["flip"] = bool(flip)
        estimator = Estimator(model, **options)
    _check_model(estimator, layout, annotation_file)

    start = time.perf_counter()
    results, failures = predict_images(estimator, images, image_dir,
                                       category_id=int(person_category(data)["id"]),
                                       progress=progress)
    seconds = time.perf_counter() - start
    if len(failures) == len(images):
        first = failures[0]
        raise ImageError(f"none of the {len(images)} images could be evaluated "
                         f"(first: {Path(image_dir) / first.file_name}: {first.reason})")
    if results_file is not None:
        write_output(results_file, json.dumps(results))
    metrics = score(annotation_file, results, dataset=dataset,
                    image_ids=[image["id"] for image in images])
    return EvalReport(metrics, dataset, api.name, len(images), failures, results, seconds)


__all__ = ["CocoMetrics", "CrowdPoseMetrics", "EvalReport", "ImageFailure", "ScoringAPI",
           "XTCOCOTOOLS_INSTALL", "detect_dataset", "evaluate", "load_annotations",
           "person_category", "predict_images", "same_file", "score", "scoring_api"]
