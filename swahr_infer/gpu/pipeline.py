"""The device pipeline: image in, persons out, with only the candidates crossing to the host.

    >>> est = Estimator("w32.engine", device="cuda")   # picks GpuPipeline when the backend
    >>> poses = est.predict("people.jpg")              # runs on the device
    >>> est.last_timings                                # per stage, from CUDA events

Per image, all on one CUDA stream: upload the uint8 image (pinned memory) -> warp + normalise +
mirror (:mod:`.preprocess`, a launch per scale) -> the backend (``run_device``) -> fusion
(:mod:`.fusion`) -> NMS / top-k (:mod:`.nms`) -> copy the K x k candidate rows to the host ->
grouping on the host (:func:`swahr_infer.decode.group_candidates`, the CPU decoder's own code)
-> adjust from the rows' shifts -> scores -> refine's argmax on the device (:mod:`.refine`, one
launch for every missing joint of every person) -> the filled joints back to the host.

The persons are those of the CPU pipeline (:class:`swahr_infer.Estimator` with the same
backend outputs): every step is the same rule, checked against its numpy reference in
``tests/gpu``.
"""

from __future__ import annotations

import logging
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..decode import DecodeParams, grouping_order
from ..decode.group import group_candidates, person_scores
from ..errors import ModelError, OutputError
from ..preprocess import ScaleGeometry
from .device import PinnedBuffer, import_cupy, require_device
from .fusion import NONFINITE_MESSAGE, DeviceMaps, fuse_device
from .nms import adjust_with_shifts, find_candidates_device, unpack
from .preprocess import DevicePreprocessor
from .refine import fill_refined, refine_queries, tag_argmax_device

log = logging.getLogger(__name__)

Plan = Tuple[List[ScaleGeometry], Tuple[int, int], np.ndarray]


class GpuPipeline:
    """Preprocessing, network, fusion, NMS and refine on the GPU for one backend.

    Args:
        backend: a :class:`~swahr_infer.backends.Backend` whose ``on_device`` is true.
        mean, std: the model's normalisation.
        flip: flip test (batch item 1 is the mirrored image).
        flip_index: joint permutation under mirroring.
        params: decoding parameters.
        stream: the ``cupy.cuda.Stream`` to queue on (default: a new non-blocking stream).
        warp: "fixed" or "float" bilinear warp (default: the installed OpenCV's, see
            :func:`swahr_infer.gpu.preprocess.warp_mode`).
    """

    def __init__(self, backend, *, mean: Sequence[float], std: Sequence[float], flip: bool,
                 flip_index: Sequence[int], params: DecodeParams, stream=None,
                 warp: Optional[str] = None):
        cp = import_cupy()
        require_device()
        if not getattr(backend, "on_device", False):
            raise ModelError(f"{type(backend).__name__} cannot run on the device; the GPU "
                             "pipeline needs TensorRT, the torch backend on CUDA or ONNX Runtime "
                             "with its CUDA provider")
        self.backend = backend
        self.stream = stream if stream is not None else cp.cuda.Stream(non_blocking=True)
        self.preprocess = DevicePreprocessor(mean, std, warp)
        self.flip = bool(flip)
        self.flip_index = tuple(int(i) for i in flip_index)
        self.params = params
        self._staging = PinnedBuffer()
        self._host = {name: PinnedBuffer() for name in ("rows", "counts", "flag")}
        self._maps: Optional[DeviceMaps] = None
        self.events: List = []

    def pinned_image(self, height: int, width: int) -> np.ndarray:
        """A uint8 [height, width, 3] host array in pinned memory.

        Decode or copy frames into it (``cap.read(image=buf)``, ``np.copyto``) and pass it to
        :meth:`fused` / :meth:`poses` to skip the staging copy.  Valid until the next call.
        """
        return self._staging.view((int(height), int(width), 3), np.uint8)

    # -- stages -------------------------------------------------------------------------------

    def upload(self, pixels: np.ndarray):
        """The image on the device (queued on the stream), through pinned memory."""
        cp = import_cupy()
        pixels = np.asarray(pixels)
        if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
            raise ValueError("pixels must be a uint8 [h, w, 3] array")
        if self._staging.holds(pixels) and pixels.flags.c_contiguous:
            host = pixels
        else:
            host = self._staging.view(pixels.shape, np.uint8)
            np.copyto(host, pixels)
        image = cp.empty(pixels.shape, np.uint8)
        image.set(host, stream=self.stream)
        return image

    def fused(self, pixels: np.ndarray, order: str, plan: Plan) -> DeviceMaps:
        """Queue everything up to the fused maps; nothing is synchronised.

        Args:
            pixels: uint8 [h, w, 3] image (host), channel order ``order`` ("rgb" / "bgr").
            plan: :func:`swahr_infer.preprocess.plan_scales` of this image.

        Returns:
            The fused maps (buffers reused by the next call).  CUDA events before upload,
            after preprocessing, after the network and after fusion are kept in
            ``self.events``.
        """
        cp = import_cupy()
        geometries, projected, _ = plan
        events = [cp.cuda.Event() for _ in range(4)]
        with self.stream:
            events[0].record()
            image = self.upload(pixels)
            batches = [self.preprocess(image, g, flip=self.flip, channel_order=order)
                       for g in geometries]
            events[1].record()
            outputs = [(g.factor, self.backend.run_device(batch, self.stream))
                       for g, batch in zip(geometries, batches)]
            events[2].record()
            self._maps = fuse_device(outputs, flip_index=self.flip_index, flip=self.flip,
                                     projected_size=projected, out=self._maps)
            events[3].record()
        self.events = events
        return self._maps

    def poses(self, pixels: np.ndarray, order: str, plan: Plan, timings: Dict[str, float]
              ) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray], Tuple[int, int]]:
        """Persons in heatmap pixels for one image (the Estimator's GPU path).

        Returns:
            persons float32 [N, K, 3 + T] (after adjust and refine), scores float32 [N],
            the scale map (host, or None) and the maps' (width, height).  ``timings`` gets
            ``preprocess``, ``inference`` and ``fusion`` from CUDA events, and ``decode``: the
            rest of the call's wall time (NMS, the copies, grouping, refine).

        Raises:
            OutputError: the network produced NaN or infinity.
        """
        cp = import_cupy()
        start = time.perf_counter()
        maps = self.fused(pixels, order, plan)
        persons, scores = self.decode(maps)
        scale_map = None
        if maps.scale_map is not None:
            with self.stream:
                scale_map = maps.scale_map.get(stream=self.stream)
        events = self.events
        for name, (a, b) in zip(("preprocess", "inference", "fusion"),
                                zip(events[:-1], events[1:])):
            timings[name] += cp.cuda.get_elapsed_time(a, b)
        device_ms = cp.cuda.get_elapsed_time(events[0], events[-1])
        timings["decode"] += max((time.perf_counter() - start) * 1e3 - device_ms, 0.0)
        return persons, scores, scale_map, maps.size

    def decode(self, maps: DeviceMaps) -> Tuple[np.ndarray, np.ndarray]:
        """Persons and scores from the fused maps (see :func:`decode_maps`; synchronises)."""
        return decode_maps(maps, self.params, self.stream, self._host)


def decode_maps(maps: DeviceMaps, params: DecodeParams, stream=None,
                buffers: Optional[Dict[str, PinnedBuffer]] = None
                ) -> Tuple[np.ndarray, np.ndarray]:
    """Persons and scores from fused maps on the device (synchronises ``stream``).

    The device counterpart of :func:`swahr_infer.decode.group_poses` (same results): candidates
    on the device, grouping and adjust on the host from the K x k candidate rows, refine's
    argmax on the device.

    Args:
        maps: fused maps on the device (their ``nonfinite`` flag is checked).
        params: decoding parameters.
        stream: the stream the maps were produced on (default: the current one).
        buffers: pinned host buffers "rows", "counts", "flag" to reuse across calls.

    Returns:
        persons float32 [N, K, 3 + T] in heatmap pixels, scores float32 [N].

    Raises:
        OutputError: the network outputs behind the maps held NaN or infinity.
    """
    cp = import_cupy()
    stream = stream if stream is not None else cp.cuda.get_current_stream()
    if buffers is None:
        buffers = {name: PinnedBuffer() for name in ("rows", "counts", "flag")}

    def fetch(name: str, array) -> np.ndarray:  # device -> pinned host, asynchronously
        host = buffers[name].view(array.shape, array.dtype)
        array.get(stream=stream, out=host, blocking=False)
        return host

    k_count = maps.heatmaps.shape[0]
    with stream:
        cand = find_candidates_device(maps.heatmaps, maps.tags,
                                      threshold=params.detection_threshold,
                                      k=params.max_num_people, kernel_size=params.nms_kernel)
        rows, counts, flag = (fetch("rows", cand.rows), fetch("counts", cand.counts),
                              fetch("flag", maps.nonfinite))
        stream.synchronize()
    if flag[0]:
        raise OutputError(NONFINITE_MESSAGE)
    candidates, shifts = unpack(rows, counts)
    persons = group_candidates(
        candidates, grouping_order(k_count), detection_threshold=params.detection_threshold,
        tag_threshold=params.tag_threshold, max_num_people=params.max_num_people,
        use_detection_val=params.use_detection_val, assignment=params.assignment)
    if params.adjust:
        persons = adjust_with_shifts(persons, candidates, shifts)
    scores = person_scores(persons)
    if params.refine and len(persons):
        who, joint, means = refine_queries(persons)
        if who.size:
            with stream:
                answers = tag_argmax_device(maps.heatmaps, maps.tags, joint, means).get(
                    stream=stream)
            persons = fill_refined(persons, who, joint, answers)
    return persons, scores
