"""Batch inference at scale on Ray Data: a pool of Estimators over millions of images.

    >>> from swahr_infer.batch import run_batch
    >>> summary = run_batch("frames/", "poses.parquet", model="w32_512.onnx", workers=4)
    >>> summary.images, summary.persons, summary.failures

How it runs: the *paths* of the images (not their pixels) form a Ray dataset; a pool of actors
each owns one :class:`~swahr_infer.estimator.Estimator` (one model session, and one GPU when the
cluster has GPUs), reads and decodes its images itself with the single-process decoding
(:func:`~swahr_infer.image_io.read_file`) and returns one small row per image.  So only paths
and results travel through Ray's object store, and the poses are exactly those of
``Estimator.predict`` with the same model and options.  An image that cannot be read or
processed becomes a row with ``error`` set; nothing else is lost.

Inputs: a folder (searched recursively, image extensions only, sorted), one image, a list of
paths or URIs (``s3://``, ``gs://``, ``hdfs://``..., read with ``pyarrow.fs``), or an existing
``ray.data.Dataset`` with a ``path`` column (strings), a ``bytes`` column (encoded images, as
``ray.data.read_binary_files(..., include_paths=True)`` makes) or an ``image`` column (decoded
[H, W, 3] uint8 arrays, RGB as Ray's readers give them; ``rgb=False`` for BGR).  Optional
``index`` and ``image_id`` columns of a dataset are carried over.

Output rows (:func:`result_schema`), one per input image:

============== ============================ ===============================================
column         type                         meaning
============== ============================ ===============================================
index          int64                        position in the input (folder: sorted order;
                                            list: given order; dataset: its ``index``
                                            column, else -1)
path           string                       the path or URI read (absolute for local files)
image_id       int64                        folder or list: the file stem when every stem is a
                                            number and no two are equal (COCO names), else
                                            ``index`` (as ``swahr-infer predict --json``);
                                            dataset: its ``image_id`` column, else that rule
                                            per row
num_persons    int32                        N (0 for failed images)
keypoints      list<list<list<float32>>>    [N][K][3]: x, y, score in image pixels
scores         list<float32>                [N] person scores
keypoint_scales list<list<float32>>         [N][K] for models with a ``scales`` output, else
                                            null (NaN -> null in JSON lines)
error          string                       null on success, else why the image was skipped
============== ============================ ===============================================

:func:`run_batch` executes and writes one file (``.parquet`` or ``.jsonl``) from the driver:
results are small, so this scales to millions of images.  :func:`pose_dataset` returns the lazy
dataset of result rows instead, for ``ds.write_parquet(folder)`` or further Ray processing.

Ray is imported only inside these functions; without it they raise
:class:`~swahr_infer.errors.MissingDependencyError` (``pip install "swahr-infer[ray]"``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from .atomic_file import replacing
from .checks import is_finite_number, is_int
from .errors import ImageError, MissingDependencyError, ModelError, OptionError, SwahrError
from .image_io import image_id_for, image_ids

log = logging.getLogger(__name__)

Source = Union[str, os.PathLike, Sequence[Union[str, os.PathLike]], "ray.data.Dataset"]  # noqa: F821

# rows per input block: enough blocks to balance the pool, not so many that the driver
# spends its time creating them (1M images -> ~1000 blocks)
MAX_BLOCK_ROWS = 1024
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
_POOL_OPTIONS = ("workers", "gpus_per_worker", "cpus_per_worker", "batch_size")


def _import_ray():
    """The ``ray`` module with ``ray.data``, or :class:`MissingDependencyError`."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("ray", "ray", "batch inference on Ray Data") from exc
    return ray


def is_uri(path: Union[str, os.PathLike]) -> bool:
    """True for ``scheme://...`` strings (``s3://``, ``gs://``, ``file://``), not local paths."""
    return isinstance(path, str) and bool(_URI.match(path))


# -- inputs -----------------------------------------------------------------------------------

def list_images(folder: Union[str, os.PathLike]) -> List[str]:
    """Absolute paths of the image files under ``folder``: the rule of ``swahr-infer predict
    FOLDER`` (:func:`swahr_infer.image_io.list_images`), as strings for Ray rows."""
    from .image_io import list_images as image_files

    return [str(p) for p in image_files(Path(folder).resolve())]


def _list_uri(uri: str) -> List[str]:
    """One URI, or the image files under a URI prefix (recursive, sorted)."""
    from pyarrow import fs

    from .image_io import IMAGE_SUFFIXES

    filesystem, root = fs.FileSystem.from_uri(uri)
    info = filesystem.get_file_info(root)
    if info.type == fs.FileType.File:
        return [uri]
    if info.type != fs.FileType.Directory:
        raise ImageError(f"{uri}: no such file or folder")
    scheme = uri[:uri.index("://") + 3]
    found = filesystem.get_file_info(fs.FileSelector(root, recursive=True))
    return sorted(scheme + f.path for f in found
                  if f.type == fs.FileType.File and Path(f.path).suffix.lower() in IMAGE_SUFFIXES)


def input_paths(source: Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]]) -> List[str]:
    """The image paths / URIs a folder, file, URI or list stands for, in processing order.

    Local paths are made absolute (Ray workers need not share the driver's working folder).
    """
    if isinstance(source, (str, os.PathLike)):
        if is_uri(source):
            paths = _list_uri(source)
        else:
            path = Path(source)
            if path.is_dir():
                paths = list_images(path)
            elif path.is_file():
                paths = [str(path.resolve())]
            else:
                raise ImageError(f"{source}: no such file or folder")
        if not paths:
            raise ImageError(f"{source}: no image files found")
        return paths
    paths = [p if is_uri(p) else str(Path(p).resolve()) for p in source]
    if not paths:
        raise ImageError("the list of images is empty")
    return paths


def _paths_dataset(ray, paths: List[str], rows_per_block: int):
    """A dataset of (index, path, image_id) rows in blocks of about ``rows_per_block``.

    Built on the driver (``from_items``): no remote tasks just to describe the blocks.  The
    image ids are decided here, over all paths at once, so that they are unique in the run
    (:func:`swahr_infer.image_io.image_ids`, as ``swahr-infer predict --json``).
    """
    items = [{"index": i, "path": path, "image_id": image_id}
             for i, (path, image_id) in enumerate(zip(paths, image_ids(paths)))]
    return ray.data.from_items(items, override_num_blocks=math.ceil(len(items) / rows_per_block))


# -- the actor --------------------------------------------------------------------------------

def result_schema():
    """The ``pyarrow.Schema`` of result rows (see the module docstring)."""
    import pyarrow as pa

    f32 = pa.float32()
    return pa.schema([
        ("index", pa.int64()),
        ("path", pa.string()),
        ("image_id", pa.int64()),
        ("num_persons", pa.int32()),
        ("keypoints", pa.list_(pa.list_(pa.list_(f32)))),
        ("scores", pa.list_(f32)),
        ("keypoint_scales", pa.list_(pa.list_(f32))),
        ("error", pa.string()),
    ])


class PoseWorker:
    """Ray Data callable class: one Estimator per actor, one result row per image.

    Use through :func:`pose_dataset`, or directly::

        ds.map_batches(PoseWorker, fn_constructor_kwargs={"model": path, "options": {...}},
                       batch_size=16, compute=ray.data.ActorPoolStrategy(size=4), num_gpus=1)

    Args:
        model: model file (local to each node), or None for the bundled model.
        options: keyword arguments of :class:`~swahr_infer.estimator.Estimator`.
        rgb: channel order of an ``image`` column of decoded arrays (Ray's readers give RGB).
    """

    def __init__(self, model: Optional[str] = None, options: Optional[Dict[str, Any]] = None,
                 rgb: bool = True):
        from .estimator import Estimator

        self.estimator = Estimator(model, **(options or {}))
        self.rgb = rgb

    def __call__(self, batch: Dict[str, np.ndarray]):
        """numpy batch (``path`` / ``bytes`` / ``image``, optional ``index``, ``image_id``)
        -> ``pyarrow.Table`` of :func:`result_schema` rows, in the batch's order."""
        import pyarrow as pa

        n = len(next(iter(batch.values())))
        paths = batch.get("path")
        if not any(key in batch for key in ("path", "bytes", "image")):
            raise ValueError("swahr-infer batch input needs a 'path', 'bytes' or 'image' column, "
                             f"not only {sorted(batch)}")
        indices = batch["index"] if "index" in batch else np.full(n, -1, np.int64)
        rows: Dict[str, list] = {name: [] for name in result_schema().names}
        for i in range(n):
            path = None if paths is None else str(paths[i])
            index = int(indices[i])
            poses, error = self._predict(batch, i, path)
            rows["index"].append(index)
            rows["path"].append(path)
            rows["image_id"].append(int(batch["image_id"][i]) if "image_id" in batch
                                    else image_id_for(path, index))
            rows["num_persons"].append(0 if poses is None else len(poses))
            rows["keypoints"].append(None if poses is None else poses.keypoints.tolist())
            rows["scores"].append(None if poses is None else poses.scores.tolist())
            scales = None if poses is None else poses.keypoint_scales
            rows["keypoint_scales"].append(None if scales is None else scales.tolist())
            rows["error"].append(error)
        return pa.Table.from_pydict(rows, schema=result_schema())

    def _predict(self, batch: Dict[str, np.ndarray], i: int, path: Optional[str]):
        """(Poses, None), or (None, why) for an image that cannot be used."""
        name = path or f"row {i}"
        try:
            if "image" in batch:
                return self.estimator.predict(batch["image"][i], rgb=self.rgb), None
            if "bytes" in batch:
                from .image_io import decode_bytes

                return self.estimator.predict(decode_bytes(batch["bytes"][i], name)), None
            return self.estimator.predict(read_image(path)), None
        except Exception as exc:  # noqa: BLE001 - one bad image must not stop a million-image job
            message = str(exc) if isinstance(exc, SwahrError) else f"{type(exc).__name__}: {exc}"
            if message.startswith(f"{name}: "):  # read errors already name the file
                message = message[len(name) + 2:]
            log.warning("skipping %s: %s", name, message)
            return None, message


def read_image(path: str) -> np.ndarray:
    """[H, W, 3] uint8 BGR from a local path or a URI, decoded as :func:`read_file` does."""
    from .image_io import decode_bytes, read_file

    if not is_uri(path):
        return read_file(path)
    from pyarrow import fs

    try:
        filesystem, inner = fs.FileSystem.from_uri(path)
        with filesystem.open_input_stream(inner) as stream:
            data = stream.read()
    except (OSError, ValueError) as exc:
        raise ImageError(f"{path}: cannot be read ({exc})") from None
    return decode_bytes(data, path)


# -- the dataset ------------------------------------------------------------------------------

def _backend_name(model, options: Dict[str, Any]) -> str:
    """The backend the actors will load (the bundled model is ONNX)."""
    from .backends import backend_for

    if options.get("backend", "auto") != "auto":
        return options["backend"]
    return "onnxruntime" if model is None else backend_for(model)


def _worker_options(model: Optional[str], estimator_options: Dict[str, Any],
                    cpus_per_worker: float, gpus_per_worker: float) -> Dict[str, Any]:
    """Estimator options for the actors, checked once here on the driver.

    ONNX Runtime models get ``threads`` = the worker's CPUs and ``device="cpu"`` without GPUs
    (unless given), and are loaded once on the CPU so that a bad file or option fails here with
    its own error rather than in every actor.  Engines (GPU-specific) are not loaded here.
    """
    from .estimator import Estimator

    options = dict(estimator_options)
    if _backend_name(model, options) != "onnxruntime":
        if model is None:
            from .bundled import bundled_model

            bundled_model()
        return options
    options.setdefault("threads", max(1, int(cpus_per_worker)))
    if gpus_per_worker <= 0:
        options.setdefault("device", "cpu")
    if "providers" not in options:
        Estimator(model, **dict(options, device="cpu", threads=1)).close()
    return options


def _pool_size(ray, workers: Optional[int], cpus_per_worker: float, gpus_per_worker: float) -> int:
    if workers is not None:  # checked by check_pool: at least 1
        return int(workers)
    resources = ray.cluster_resources()
    if gpus_per_worker > 0:
        return max(1, int(resources.get("GPU", 0) // gpus_per_worker))
    return max(1, int(resources.get("CPU", 1) // cpus_per_worker))


def pose_dataset(source: Source, model: Union[str, os.PathLike, None] = None, *,
                 workers: Optional[int] = None, gpus_per_worker: Optional[float] = None,
                 cpus_per_worker: float = 1.0, batch_size: int = 16, rgb: bool = True,
                 map_options: Optional[Dict[str, Any]] = None,
                 **estimator_options) -> "ray.data.Dataset":  # noqa: F821
    """The lazy Ray dataset of result rows (:func:`result_schema`), one per input image.

    Uses the running Ray (``ray.init`` or :func:`init_ray`; a local one is started if none
    is); nothing runs until the dataset is consumed (``iter_batches``, ``write_parquet``, ...).

    Args:
        source: folder, image file, URI, list of paths / URIs, or a ``ray.data.Dataset``
            (see the module docstring).
        model: ``.onnx`` file present at this path on every node; None: the bundled model.
        workers: actors in the pool, at least 1; None (the default): cluster GPUs /
            ``gpus_per_worker`` when GPUs are used, else cluster CPUs / ``cpus_per_worker``.
            0 is refused rather than read as "automatic", as ``--workers 0`` is.
        gpus_per_worker: GPUs reserved per actor (default: 1 when the cluster has GPUs, else
            0; fractions share a GPU between actors).
        cpus_per_worker: CPUs reserved per actor (more than 0), also its inference threads
            (unless ``threads`` is given).
        batch_size: images per call of an actor, at least 1 (they are still run one by one:
            the pool, not the batch, gives the parallelism).
        rgb: channel order of an ``image`` column of a dataset.
        map_options: more ``Dataset.map_batches`` arguments, e.g.
            ``{"accelerator_type": "A10G"}`` to keep the pool on the GPU type an engine was
            built for, or ``{"memory": 4e9}``.
        **estimator_options: :class:`~swahr_infer.estimator.Estimator` options (``scales``,
            ``flip``, ``detection_threshold``, ``device``, ``threads``, ...).

    Raises:
        OptionError: a pool option out of range; ImageError: no input images (a missing
        folder or file, an empty folder or list); ModelError: no such model file.  All are
        checked before Ray is started.
    """
    source, model = _checked_inputs(source, model, workers=workers,
                                    gpus_per_worker=gpus_per_worker,
                                    cpus_per_worker=cpus_per_worker, batch_size=batch_size)
    return _pose_dataset(init_ray(), source, model, workers=workers,
                         gpus_per_worker=gpus_per_worker, cpus_per_worker=cpus_per_worker,
                         batch_size=batch_size, rgb=rgb, map_options=map_options,
                         **estimator_options)


def check_pool(workers: Optional[int] = None, gpus_per_worker: Optional[float] = None,
               cpus_per_worker: float = 1.0, batch_size: int = 16, *, flags: bool = False
               ) -> None:
    """The pool options, checked before Ray starts (seconds) and the job runs (hours): Ray would
    otherwise fail only once started (``workers=-1``: its ``ValueError(('size must be >= 1',
    -1))``), or ``workers=0`` would quietly mean "automatic" (that is None).

    ``flags``: name the options as the CLI spells them (``--workers``), for ``swahr-infer
    predict --ray``, which checks them with this same function.
    """
    def name(option: str) -> str:
        return "--" + option.replace("_", "-") if flags else option

    unset = "leave it out" if flags else "None"
    whole = "" if flags else "an integer of "  # argparse already made the flags integers
    if workers is not None and (not is_int(workers) or workers < 1):
        raise OptionError(f"{name('workers')} must be {whole}at least 1, not {workers!r} "
                          f"({unset}: one per GPU, else one per CPU)")
    if not is_int(batch_size) or batch_size < 1:
        raise OptionError(f"{name('batch_size')} must be {whole}at least 1, not "
                          f"{batch_size!r}")
    if gpus_per_worker is not None and not (is_finite_number(gpus_per_worker)
                                            and gpus_per_worker >= 0):
        raise OptionError(f"{name('gpus_per_worker')} must be 0 or more (fractions share a GPU; "
                          f"{unset}: 1 when the cluster has GPUs, else 0), not "
                          f"{gpus_per_worker!r}")
    if not (is_finite_number(cpus_per_worker) and cpus_per_worker > 0):
        raise OptionError(f"{name('cpus_per_worker')} must be more than 0, not "
                          f"{cpus_per_worker!r}")


def _checked_inputs(source: Source, model: Union[str, os.PathLike, None],
                    **pool) -> Tuple[Any, Optional[str]]:
    """(the image paths, or the dataset given; the model's absolute path), with the pool
    options checked: all of it before Ray starts (a local ``ray.init`` takes seconds) and
    before any dataset is built, so a bad option, a missing folder or an empty list fails at
    once with its own error."""
    ray = _import_ray()  # imported, not started: a missing Ray is still said first
    check_pool(**pool)
    inputs = source if isinstance(source, ray.data.Dataset) else input_paths(source)
    if model is not None:
        if not Path(model).is_file():
            raise ModelError(f"{model}: no such model file (it must exist at this path on the "
                             "driver and on every node)")
        model = str(Path(model).resolve())
    return inputs, model


def _pose_dataset(ray, inputs, model: Optional[str], *, workers: Optional[int] = None,
                  gpus_per_worker: Optional[float] = None, cpus_per_worker: float = 1.0,
                  batch_size: int = 16, rgb: bool = True,
                  map_options: Optional[Dict[str, Any]] = None, **estimator_options):
    """:func:`pose_dataset` on inputs that :func:`_checked_inputs` returned."""
    paths = None if isinstance(inputs, ray.data.Dataset) else inputs
    if gpus_per_worker is None:
        gpus_per_worker = 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
    options = _worker_options(model, estimator_options, cpus_per_worker, gpus_per_worker)
    size = _pool_size(ray, workers, cpus_per_worker, gpus_per_worker)
    if paths is None:
        dataset = inputs
    else:
        rows = min(max(batch_size, math.ceil(len(paths) / (4 * size))),
                   max(batch_size, MAX_BLOCK_ROWS))
        dataset = _paths_dataset(ray, paths, rows)
    log.info("pose pool: %d worker(s), %g CPU and %g GPU each, batch %d", size, cpus_per_worker,
             gpus_per_worker, batch_size)
    return dataset.map_batches(
        PoseWorker, fn_constructor_kwargs={"model": model, "options": options, "rgb": rgb},
        batch_size=batch_size, batch_format="numpy", zero_copy_batch=True,
        compute=ray.data.ActorPoolStrategy(size=size), num_cpus=cpus_per_worker,
        num_gpus=gpus_per_worker or None, **(map_options or {}))


# -- running and writing ----------------------------------------------------------------------

def init_ray(address: Optional[str] = None, *, num_cpus: Optional[int] = None,
             num_gpus: Optional[int] = None, **init_options):
    """Connect to the Ray cluster at ``address``, or start a local one; no-op if connected.

    A local Ray gets ``num_cpus`` / ``num_gpus`` (default: this machine's) and no dashboard.
    Returns the ``ray`` module.
    """
    ray = _import_ray()
    if ray.is_initialized():
        return ray
    if address:
        ray.init(address=address, **init_options)
    else:
        init_options.setdefault("include_dashboard", False)
        ray.init(num_cpus=num_cpus, num_gpus=num_gpus, **init_options)
    return ray


@dataclass
class BatchSummary:
    """What a :func:`run_batch` run did.

    Attributes:
        out: the results file.
        images: rows written (one per input image, failed ones included).
        persons: persons found in all images.
        failures: (path, reason) of each image that could not be processed.
        seconds: wall time of the run (reading, inference and writing; not Ray's start-up).
    """

    out: Path
    images: int = 0
    persons: int = 0
    failures: List[Tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def succeeded(self) -> int:
        return self.images - len(self.failures)

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0


def results_format(out: Union[str, os.PathLike]) -> str:
    """"parquet" (``.parquet``, ``.pq``) or "jsonl" (``.jsonl``, ``.ndjson``, and ``.json``,
    which also gets JSON lines, one object per line, not one JSON list), from the file suffix
    of ``out``; the error lists every accepted suffix."""
    suffix = Path(out).suffix.lower()
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    if suffix in _JSON_SUFFIXES:
        return "jsonl"
    raise OptionError(f"{out}: results file must end with .parquet or .jsonl (also accepted: "
                     f".pq for Parquet, .ndjson or .json for JSON lines), not {suffix!r}")


@contextmanager
def _data_context(ray, preserve_order: bool, progress: bool) -> Iterator[None]:
    """Ray Data's global execution options for one run, restored afterwards."""
    context = ray.data.DataContext.get_current()
    saved = (context.execution_options.preserve_order, context.enable_progress_bars)
    context.execution_options.preserve_order = preserve_order
    context.enable_progress_bars = progress
    try:
        yield
    finally:
        context.execution_options.preserve_order, context.enable_progress_bars = saved


def run_batch(source: Source, out: Union[str, os.PathLike],
              model: Union[str, os.PathLike, None] = None, *, preserve_order: bool = False,
              address: Optional[str] = None, progress: bool = True,
              **options) -> BatchSummary:
    """Find the poses in every input image on Ray Data and write one results file.

    Args:
        source: see :func:`pose_dataset`.
        out: ``.parquet`` or ``.jsonl`` file, written atomically (a temporary file beside it, then renamed).
        model: see :func:`pose_dataset`.
        preserve_order: write rows in input order (Ray Data's ``preserve_order``); otherwise
            in completion order (sort by ``index`` later if needed).
        address: Ray cluster to use when Ray is not initialised yet; None starts a local one.
        progress: Ray Data's progress bars.
        **options: :func:`pose_dataset` options (``workers``, ``gpus_per_worker``,
            ``cpus_per_worker``, ``batch_size``, ``rgb``, ``map_options``) and Estimator
            options.

    Returns:
        :class:`BatchSummary`; failed images are rows with ``error`` set, listed in
        ``failures``.

    Raises:
        OptionError: ``out`` has another suffix, is a folder or cannot be created there, or a
        pool option is out of range; ImageError, ModelError: as :func:`pose_dataset`.  All are
        checked before Ray is started, so they come at once, not after the job.
    """
    from .cli.args import check_output_file

    _import_ray()  # a missing Ray is said before anything else
    out = Path(out)
    fmt = results_format(out)
    # before Ray starts and the job runs: a results path that is a folder would otherwise lose
    # every result at the final write
    check_output_file(out, "out")
    pool = {key: options[key] for key in _POOL_OPTIONS if key in options}
    inputs, model = _checked_inputs(source, model, **pool)
    ray = init_ray(address)
    start = time.perf_counter()
    summary = BatchSummary(out)
    with _data_context(ray, preserve_order, progress):
        dataset = _pose_dataset(ray, inputs, model, **options)
        batches = dataset.iter_batches(batch_format="pyarrow", batch_size=None)
        write_results(_counted(batches, summary), out, fmt)
    summary.seconds = time.perf_counter() - start
    log.info("%d image(s), %d person(s), %d failed, %.1f images/s -> %s", summary.images,
             summary.persons, len(summary.failures), summary.images_per_second, out)
    return summary


def _counted(tables: Iterable, summary: BatchSummary) -> Iterator:
    """Pass result tables through, adding their counts and failures to ``summary``."""
    for table in tables:
        if table.num_rows == 0:
            continue
        summary.images += table.num_rows
        summary.persons += int(np.sum(table.column("num_persons").to_numpy()))
        errors = table.column("error")
        if errors.null_count < table.num_rows:
            for path, error in zip(table.column("path").to_pylist(), errors.to_pylist()):
                if error is not None:
                    summary.failures.append((path, error))
        yield table


def write_results(tables: Iterable, out: Union[str, os.PathLike],
                  fmt: Optional[str] = None) -> Path:
    """Write result tables (:func:`result_schema`) to one Parquet or JSON-lines file.

    The file appears only when complete: it is written beside ``out`` and renamed over it
    (:func:`swahr_infer.atomic_file.replacing`), so a reader never sees half a results file.
    """
    import pyarrow.parquet as pq

    out = Path(out)
    fmt = fmt or results_format(out)
    schema = result_schema()
    with replacing(out) as part:
        if fmt == "parquet":
            with pq.ParquetWriter(str(part), schema) as writer:
                for table in tables:
                    writer.write_table(table.cast(schema))
        else:
            with open(part, "w", encoding="utf-8") as stream:
                for table in tables:
                    for row in table.to_pylist():
                        if row["keypoint_scales"] is not None:
                            row["keypoint_scales"] = _nan_to_none(row["keypoint_scales"])
                        stream.write(json.dumps(row, allow_nan=False) + "\n")
    return out


def _nan_to_none(rows: List[List[Optional[float]]]) -> List[List[Optional[float]]]:
    return [[None if v is None or v != v else v for v in row] for row in rows]


def read_results(path: Union[str, os.PathLike]) -> "pyarrow.Table":  # noqa: F821
    """A results file (Parquet or JSON lines) as a ``pyarrow.Table`` of :func:`result_schema`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if results_format(path) == "parquet":
        return pq.read_table(str(path)).cast(result_schema())
    with open(path, encoding="utf-8") as stream:
        rows = [json.loads(line) for line in stream if line.strip()]
    nan = float("nan")
    for row in rows:  # JSON has no NaN: the writer wrote null for joints without a scale
        if row.get("keypoint_scales") is not None:
            row["keypoint_scales"] = [[nan if v is None else v for v in person]
                                      for person in row["keypoint_scales"]]
    return pa.Table.from_pylist(rows, schema=result_schema())
