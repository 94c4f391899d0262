"""The whole test-time pipeline behind one object: image in, poses out.

    >>> from swahr_infer import Estimator
    >>> est = Estimator("w32_512.onnx")            # defaults from the model's metadata
    >>> poses = est.predict("people.jpg")           # Poses, original-image pixels
    >>> poses.keypoints.shape                       # (N, 17, 3)
    >>> est.last_timings                            # ms per stage of the last call

One image goes through, top to bottom:
:mod:`~swahr_infer.image_io` (pixels) -> :mod:`~swahr_infer.preprocess` (a batch per scale)
-> a :mod:`~swahr_infer.backends` backend (network outputs) -> :mod:`~swahr_infer.fusion`
(one set of maps) -> :mod:`~swahr_infer.decode` (grouped poses) ->
:mod:`~swahr_infer.postprocess` (optional clean-ups, off by default).

With the defaults (scale 1.0, flip on, the model's thresholds) the poses are those of the
official SWAHR / HigherHRNet test pipeline.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .backends import Backend, load_backend
from .checks import is_finite_number, is_int, is_number
from .decode import DecodeParams, group_poses, to_image
from .errors import (ImageError, MissingDependencyError, ModelError, OptionError, OutputError,
                     SwahrError)
from .fusion import FusedMaps, fuse
from .image_io import ImageLike, to_pixels
from .poses import Poses
from .postprocess import clean
from .preprocess import (Prepared, ScaleGeometry, normalization_table, plan_scales, prepare,
                         scale_geometry)

Plan = Tuple[List[ScaleGeometry], Tuple[int, int], np.ndarray]

log = logging.getLogger(__name__)

# network inputs longer than this many times their short side are refused (a 2 x 5000 image
# would otherwise ask for a 512 x 1,280,000 input)
MAX_ASPECT = 16.0


class Estimator:
    """Multi-person pose estimation with an exported SWAHR / HigherHRNet model.

    Args:
        model: a model file (``.onnx`` with swahr-infer metadata; ``.engine`` / ``.plan``, a
            TensorRT engine; ``.pth`` / ``.pt``, a checkpoint for the torch backend), a loaded
            :class:`~swahr_infer.backends.Backend`, or None for the model bundled with the
            package.
        backend: "auto" (by file suffix) or a backend name ("onnxruntime", "tensorrt", "torch").
        scales: test scales (official: ``(1.0,)``; multi-scale e.g. ``(2.0, 1.0, 0.5)``).
            Several scales must include 1.0, whose tag maps are used.
        flip: flip test (run the mirrored image too and average), official default on.
        input_size: nominal input size; default the model's (512 for W32, 640 for W48).
        detection_threshold, tag_threshold, max_num_people, nms_kernel, use_detection_val,
            adjust, refine: decoding parameters; default the model's metadata (official values).
        assignment: "scipy" (default) or "munkres": the matching solver (see
            :class:`~swahr_infer.decode.DecodeParams`); "munkres" gives the official code's
            poses even where the matching has ties (needs ``pip install munkres``).
        joint_names, flip_index: override the model's layout (same joint count).
        dedup_oks: OKS threshold for suppressing duplicate skeletons of one person (off).
        min_score: drop persons scoring below this (off).
        max_people: keep only the best this many persons (off).
        device: "auto", "cpu" or "cuda": where the backend runs (ONNX Runtime provider, torch
            device).  When the backend runs on the GPU (TensorRT, torch on CUDA, ONNX Runtime's
            CUDA provider) and CuPy is installed, preprocessing, fusion, NMS and refine run
            there too (:class:`swahr_infer.gpu.GpuPipeline`); ``"cuda"`` requires that,
            ``"cpu"`` keeps everything on the host.
        threads: intra-op threads of the backend (0 / None: its default).
        providers: explicit ONNX Runtime providers.
        **backend_options: passed to the backend constructor (e.g.
            ``graph_optimization_level="basic"``).  ``device``, ``threads``, ``providers`` and
            these only apply when ``model`` is a file, not an already loaded backend.

    Attributes:
        info: the model's :class:`~swahr_infer.metadata.ModelInfo`.
        params: the :class:`~swahr_infer.decode.DecodeParams` in use.
        last_timings: milliseconds spent per stage in the last :meth:`predict` call (summed over
            the images of a list): ``load``, ``preprocess``, ``inference``, ``fusion``,
            ``decode``, ``postprocess``, ``total`` and ``images``.  On the GPU pipeline
            ``preprocess``, ``inference`` and ``fusion`` are device times (CUDA events).
        gpu: the :class:`~swahr_infer.gpu.GpuPipeline` in use, or None (host pipeline).
    """

    def __init__(self, model: Union[str, Path, Backend, None] = None, *, backend: str = "auto",
                 scales: Sequence[float] = (1.0,), flip: bool = True,
                 input_size: Optional[int] = None,
                 detection_threshold: Optional[float] = None,
                 tag_threshold: Optional[float] = None, max_num_people: Optional[int] = None,
                 nms_kernel: Optional[int] = None, use_detection_val: Optional[bool] = None,
                 adjust: Optional[bool] = None, refine: Optional[bool] = None,
                 assignment: Optional[str] = None,
                 joint_names: Optional[Sequence[str]] = None,
                 flip_index: Optional[Sequence[int]] = None,
                 dedup_oks: Optional[float] = None, min_score: Optional[float] = None,
                 max_people: Optional[int] = None, device: str = "auto",
                 threads: Optional[int] = None, providers: Optional[Sequence] = None,
                 **backend_options):
        self.scales = _check_scales(scales)
        _check_cleaning(dedup_oks, min_score, max_people)
        if not isinstance(flip, (bool, np.bool_)):  # flip="no" would be truthy: flip on
            raise OptionError(f"flip must be True or False, not {flip!r}")
        if input_size is not None and not is_int(input_size):
            raise OptionError(f"input_size must be a whole number of pixels, not {input_size!r}")
        if threads is not None and (not is_int(threads) or threads < 0):
            raise OptionError(f"threads must be 0 or None (the backend's default) or a positive "
                              f"count, not {threads!r}")
        self.flip = bool(flip)
        if isinstance(model, Backend):
            self.backend = model
        else:
            if model is None:
                from .bundled import bundled_model

                model = bundled_model()
            options = dict(backend_options)
            if device != "auto":
                options["device"] = device
            if threads:
                options["intra_op_num_threads"] = int(threads)
            if providers is not None:
                options["providers"] = providers
            try:
                self.backend = load_backend(model, backend, **options)
            except TypeError as exc:  # an option that backend does not take
                raise OptionError(f"{model}: backend option not supported: {exc}") from exc
        self.info = self.backend.info
        k = self.info.num_joints
        self.joint_names = tuple(joint_names) if joint_names is not None else tuple(
            self.info.joint_names)
        self.flip_index = tuple(int(i) for i in flip_index) if flip_index is not None else tuple(
            self.info.flip_index)
        if len(self.joint_names) != k or len(self.flip_index) != k:
            raise ModelError(f"the model has {k} joints but {len(self.joint_names)} joint names "
                             f"and {len(self.flip_index)} flip indices were given")
        if sorted(self.flip_index) != list(range(k)):
            raise ModelError(f"flip_index must be a permutation of 0..{k - 1}")
        self.skeleton = self.info.layout.skeleton
        self.sigmas = self.info.layout.sigmas
        self.input_size = int(self.info.input_size if input_size is None else input_size)
        if self.input_size <= 0:
            raise OptionError(f"input_size must be positive, not {self.input_size}")
        overrides = dict(detection_threshold=detection_threshold, tag_threshold=tag_threshold,
                         max_num_people=max_num_people, nms_kernel=nms_kernel,
                         use_detection_val=use_detection_val, adjust=adjust, refine=refine,
                         assignment=assignment)
        self.params = DecodeParams.from_defaults(
            self.info.decode, **{key: value for key, value in overrides.items() if value is not None})
        self.dedup_oks, self.min_score, self.max_people = dedup_oks, min_score, max_people
        self._check_short_side()
        self._tables = {order: normalization_table(self.info.mean, self.info.std, order)
                        for order in ("rgb", "bgr")}
        self.last_timings: Dict[str, float] = {}
        self._workspace: Dict[str, np.ndarray] = {}  # fused-map buffers reused across images
        self._lock = threading.Lock()  # predict() calls from several threads take turns
        # image -> persons: on the host, or on the GPU when the backend runs there
        self.gpu = self._gpu_pipeline(device)
        self._persons = self.gpu.poses if self.gpu is not None else self._host_persons

    # -- public -------------------------------------------------------------------------------

    def predict(self, image: Union[ImageLike, List[ImageLike]], rgb: bool = False,
                return_exceptions: bool = False
                ) -> Union[Poses, List[Union[Poses, SwahrError]]]:
        """Poses in one image, or in each image of a list (list in, list out).

        Args:
            image: a file path, a numpy array [H, W, 3] uint8 (BGR, as OpenCV gives it, unless
                ``rgb=True``), a PIL image, or a list of those.
            rgb: numpy arrays are in RGB order.
            return_exceptions: with a list, an item that cannot be used (an
                :class:`~swahr_infer.errors.ImageError`: unreadable, empty, too elongated; or an
                :class:`~swahr_infer.errors.OutputError`: non-finite network outputs) gets its
                exception in its place in the returned list instead of raising it, so one bad
                file does not cost the others (``asyncio.gather``'s convention).  Errors of the
                model or the options are raised either way.

        Returns:
            :class:`~swahr_infer.poses.Poses` in original-image pixels.

        Threads may share an Estimator: their calls run one at a time (the network already uses
        ``threads`` cores).  For calls in parallel give each thread its own Estimator, or use
        :mod:`swahr_infer.batch`.
        """
        timings = dict.fromkeys(("load", "preprocess", "inference", "fusion", "decode",
                                 "postprocess", "total"), 0.0)
        # one call at a time: the fused-map buffers (and the GPU pipeline's) are reused from
        # call to call, so two threads sharing an Estimator would overwrite each other's maps
        with self._lock:
            if isinstance(image, (list, tuple)):
                result = [self._predict_item(item, rgb, timings, return_exceptions)
                          for item in image]
            else:
                result = self._predict_one(image, rgb, timings)
            timings["images"] = len(image) if isinstance(image, (list, tuple)) else 1
            self.last_timings = timings
        return result

    __call__ = predict

    def _predict_item(self, image: ImageLike, rgb: bool, timings: Dict[str, float],
                      return_exceptions: bool) -> Union[Poses, SwahrError]:
        try:
            return self._predict_one(image, rgb, timings)
        except (ImageError, OutputError) as exc:
            if not return_exceptions:
                raise
            return exc

    def fused_maps(self, image: ImageLike, rgb: bool = False) -> Tuple[FusedMaps, Prepared]:
        """The decoder's input for one image (fused heatmaps and tags) and its geometry."""
        timings: Dict[str, float] = dict.fromkeys(("load", "preprocess", "inference", "fusion"),
                                                  0.0)
        return self._maps(image, rgb, timings, workspace=None)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> "Estimator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Estimator({self.info.arch}, K={self.info.num_joints}, "
                f"input_size={self.input_size}, scales={self.scales}, flip={self.flip})")

    # -- pipeline -----------------------------------------------------------------------------

    def _load(self, image: ImageLike, rgb: bool, timings: Dict[str, float]
              ) -> Tuple[np.ndarray, str, Plan]:
        """Pixels, their channel order and the scale plan (sizes checked)."""
        t0 = time.perf_counter()
        pixels, order = to_pixels(image, rgb=rgb)
        plan = plan_scales(pixels.shape[:2], self.input_size, self.scales)
        self._check_geometry(plan[0], pixels.shape[:2])
        timings["load"] += (time.perf_counter() - t0) * 1e3
        return pixels, order, plan

    def _maps(self, image: ImageLike, rgb: bool, timings: Dict[str, float],
              workspace: Optional[Dict[str, np.ndarray]]) -> Tuple[FusedMaps, Prepared]:
        pixels, order, plan = self._load(image, rgb, timings)
        return self._host_maps(pixels, order, plan, timings, workspace)

    def _host_maps(self, pixels: np.ndarray, order: str, plan: Plan, timings: Dict[str, float],
                   workspace: Optional[Dict[str, np.ndarray]]) -> Tuple[FusedMaps, Prepared]:
        t1 = time.perf_counter()
        prepared = prepare(pixels, input_size=self.input_size, scales=self.scales,
                           mean=self.info.mean, std=self.info.std, flip=self.flip,
                           channel_order=order, table=self._tables[order], plan=plan)
        t2 = time.perf_counter()
        outputs = [(g.factor, self.backend.run(batch))
                   for g, batch in zip(prepared.geometries, prepared.batches)]
        t3 = time.perf_counter()
        fused = fuse(outputs, flip_index=self.flip_index, flip=self.flip,
                     projected_size=prepared.projected_size, workspace=workspace)
        t4 = time.perf_counter()
        timings["preprocess"] += (t2 - t1) * 1e3
        timings["inference"] += (t3 - t2) * 1e3
        timings["fusion"] += (t4 - t3) * 1e3
        return fused, prepared

    def _host_persons(self, pixels: np.ndarray, order: str, plan: Plan,
                      timings: Dict[str, float]):
        """Persons in heatmap pixels, scores, scale map and map size: the host pipeline."""
        fused, _ = self._host_maps(pixels, order, plan, timings, self._workspace)
        t0 = time.perf_counter()
        # fusion already rejected non-finite network outputs; the maps interpolate them
        persons, scores = group_poses(fused.heatmaps, fused.tags, self.params,
                                      check_finite=False)
        timings["decode"] += (time.perf_counter() - t0) * 1e3
        return persons, scores, fused.scale_map, fused.size

    def _predict_one(self, image: ImageLike, rgb: bool, timings: Dict[str, float]) -> Poses:
        t0 = time.perf_counter()
        pixels, order, plan = self._load(image, rgb, timings)
        persons, scores, scale_map, size = self._persons(pixels, order, plan, timings)
        t1 = time.perf_counter()
        to_original = plan[2]
        poses = Poses(to_image(persons, to_original), scores, self.joint_names, self.skeleton)
        if scale_map is not None:
            poses.keypoint_scales = keypoint_scales(poses.keypoints, scale_map, to_original, size)
        poses = clean(poses, sigmas=self.sigmas, dedup_oks=self.dedup_oks,
                      min_score=self.min_score, max_people=self.max_people)
        t2 = time.perf_counter()
        timings["postprocess"] += (t2 - t1) * 1e3
        timings["total"] += (t2 - t0) * 1e3
        return poses

    def _gpu_pipeline(self, device: str):
        """The GPU pipeline when the backend runs on the device (and CuPy is there), else None."""
        if device == "cpu" or not self.backend.on_device:
            if device == "cuda" and not self.backend.on_device:
                log.info("%s runs on the host; preprocessing and decoding stay there too",
                         type(self.backend).__name__)
            return None
        try:
            from .gpu.pipeline import GpuPipeline

            return GpuPipeline(self.backend, mean=self.info.mean, std=self.info.std,
                               flip=self.flip, flip_index=self.flip_index, params=self.params)
        except MissingDependencyError:
            if device == "cuda":
                raise
            log.warning("the backend runs on the GPU but CuPy is missing: preprocessing and "
                        "decoding run on the host (pip install \"swahr-infer[gpu]\")")
            return None

    # -- checks -------------------------------------------------------------------------------

    def _check_short_side(self) -> None:
        """Fail early when a test scale gives a short side the network cannot take."""
        smallest = self.scales[-1]
        for factor in self.scales:
            short = scale_geometry((1000, 1000), self.input_size, factor, smallest).size[0]
            if short % self.info.size_divisor:
                raise OptionError(
                    f"scale {factor:g} with input_size {self.input_size} gives a network input "
                    f"side of {short} pixels, not a multiple of {self.info.size_divisor}; "
                    "choose scales whose ratio to the smallest is a whole number, e.g. "
                    "(2.0, 1.0, 0.5)")

    def _check_geometry(self, geometries: Sequence[ScaleGeometry],
                        image_hw: Tuple[int, int]) -> None:
        """Refuse network inputs that are absurdly elongated or that the backend cannot take."""
        for geometry in geometries:
            w, h = geometry.size
            if max(w, h) > MAX_ASPECT * min(w, h):
                raise ImageError(
                    f"image of {image_hw[1]}x{image_hw[0]} pixels is too elongated: the network "
                    f"input would be {w}x{h} (more than {MAX_ASPECT:g}:1); crop it first")
            self.backend.check_input_size(w, h)


def _check_cleaning(dedup_oks, min_score, max_people) -> None:
    """Refuse values of the optional clean-up that would quietly give wrong results: a NaN
    ``min_score`` compares false with every score (everybody dropped), ``max_people=-1`` slices
    off the last person, ``dedup_oks`` outside (0, 1] suppresses everyone or nobody."""
    if min_score is not None and not is_finite_number(min_score):
        raise OptionError(f"min_score must be a finite number or None, not {min_score!r}")
    if dedup_oks is not None and not (is_number(dedup_oks) and 0.0 < dedup_oks <= 1.0):
        raise OptionError(f"dedup_oks is an OKS threshold in (0, 1] (e.g. 0.9) or None, not "
                          f"{dedup_oks!r}")
    if max_people is not None and (not is_int(max_people) or max_people < 1):
        raise OptionError(f"max_people must be a whole number of at least 1 or None, not "
                          f"{max_people!r}")


def _check_scales(scales: Sequence[float]) -> Tuple[float, ...]:
    """Validated test scales in descending order (the official loop order)."""
    if isinstance(scales, (int, float)):
        scales = (scales,)
    if isinstance(scales, (str, bytes)) or not hasattr(scales, "__iter__") or not all(
            is_number(s) for s in scales):  # "12" would be read as scales (2.0, 1.0)
        raise OptionError(f"scales must be a sequence of numbers, e.g. (1.0,) or (2.0, 1.0, "
                          f"0.5), not {scales!r}")
    values = tuple(sorted((float(s) for s in scales), reverse=True))
    if not values:
        raise OptionError("scales must not be empty (official: (1.0,))")
    if any(not np.isfinite(s) or s <= 0 for s in values):
        raise OptionError(f"scales must be positive numbers, not {scales}")
    if len(set(values)) != len(values):
        raise OptionError(f"scales must not repeat: {scales}")
    if len(values) > 1 and 1.0 not in values:
        raise OptionError(f"scales {scales} must include 1.0: as in the official pipeline the tag "
                         "maps come from scale 1.0")
    return values


def keypoint_scales(keypoints: np.ndarray, scale_map: np.ndarray, to_image: np.ndarray,
                    projected_size: Tuple[int, int]) -> np.ndarray:
    """Predicted Gaussian width multiplier ``1 / sqrt(1 + s)`` at each found keypoint.

    Args:
        keypoints: [N, K, 3] (x, y, score) in image pixels.
        scale_map: [K, h, w] SAHR scale map ``s`` at network resolution.
        to_image: [2, 3] projected-heatmap -> image affine the keypoints were mapped with.
        projected_size: (W, H) of the projected heatmaps.

    Returns:
        float32 [N, K]; NaN for joints not found (score 0) or where ``1 + s <= 0``.
    """
    n, k_count = keypoints.shape[:2]
    out = np.full((n, k_count), np.nan, np.float32)
    if n == 0:
        return out
    k_map, h, w = scale_map.shape
    to_projected = cv2.invertAffineTransform(np.asarray(to_image, np.float64))
    xy = keypoints[..., :2].astype(np.float64) @ to_projected[:, :2].T + to_projected[:, 2]
    # nearest network pixel: pixel i of the grid covers [i, i+1) in its own units
    col = np.clip(np.floor(xy[..., 0] * w / projected_size[0]), 0, w - 1).astype(np.int64)
    row = np.clip(np.floor(xy[..., 1] * h / projected_size[1]), 0, h - 1).astype(np.int64)
    joint = np.broadcast_to(np.arange(k_count), (n, k_count))
    one_plus_s = 1.0 + scale_map[joint, row, col].astype(np.float64)
    ok = (keypoints[..., 2] > 0) & (one_plus_s > 0)
    out[ok] = (1.0 / np.sqrt(one_plus_s[ok])).astype(np.float32)
    return out
