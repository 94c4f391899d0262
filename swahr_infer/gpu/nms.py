"""Heatmap peaks, top-k per joint and the tags at the peaks, on the device.

Numpy reference: :func:`swahr_infer.decode.nms.find_candidates` - the same candidates (5x5 NMS
with -inf padding, values strictly above the float32 threshold, value descending then flat
index ascending, at most ``k`` per joint, ``counts`` = how many).  Kernels: ``kernels/nms.cu``,
two launches for all joints.

Each candidate row also carries the adjust shifts (+-0.25 towards the larger horizontal /
vertical neighbour, :func:`swahr_infer.decode.adjust_joints`' rule), so grouped joints can be
adjusted on the host without the heatmaps: only the K x k rows travel to the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

from ..decode.nms import Candidates, threshold_f32
from .device import blocks, import_cupy, kernel

THREADS = 256  # threads per block of the first launch (kernels/nms.cu THREADS)
PER_THREAD = 8  # pixels per thread of the first launch (kernels/nms.cu PER_THREAD)
SELECT_THREADS = 1024  # threads per block of the second launch (kernels/nms.cu)
MAX_K = 4096  # candidates per joint (kernels/nms.cu SORT_MAX: the second launch's key buffer)


@dataclass
class DeviceCandidates:
    """Candidates on the device.

    Attributes:
        rows: CuPy float32 [K, k, 5 + T]: x, y, value, dx, dy, tags; zero past ``counts``.
        counts: CuPy int32 [K].
    """

    rows: object
    counts: object

    def to_host(self):
        """(:class:`~swahr_infer.decode.nms.Candidates`, shifts float32 [K, k, 2]); synchronises."""
        return unpack(self.rows.get(), self.counts.get())


def unpack(rows: np.ndarray, counts: np.ndarray):
    """Host rows [K, k, 5 + T] and counts [K] -> (Candidates, adjust shifts [K, k, 2])."""
    xy = rows[:, :, :2].astype(np.int32)
    cand = Candidates(xy, np.ascontiguousarray(rows[:, :, 2]),
                      np.ascontiguousarray(rows[:, :, 5:]), counts.astype(np.int32))
    return cand, np.ascontiguousarray(rows[:, :, 3:5])


def find_candidates_device(heatmaps, tags, *, threshold: float, k: int = 30, kernel_size: int = 5,
                           variant: Optional[Dict[str, int]] = None) -> DeviceCandidates:
    """Queue NMS + top-k + tag gather on the current CuPy stream.

    Args:
        heatmaps: CuPy float32 [K, H, W], C-contiguous.
        tags: CuPy float32 [K, H, W, T], C-contiguous.
        threshold: detection threshold (>= 0); values strictly above it are candidates.
        k: candidates per joint (max_num_people).
        kernel_size: odd NMS window side (official 5).
        variant: macros of ``kernels/nms.cu`` to compile the tile launch with instead of its
            defaults ({"THREADS": ..., "PER_THREAD": ..., "MIN_BLOCKS": ...}), for benchmarks.

    Returns:
        :class:`DeviceCandidates`.
    """
    cp = import_cupy()
    k_count, h, w = heatmaps.shape
    t_dim = tags.shape[3]
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K}, got {k}")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd and >= 1, got {kernel_size}")
    if h * w >= 2 ** 31:
        raise ValueError(f"maps of {h}x{w} pixels are too large for the NMS kernel")
    variant = dict(variant or {})
    threads = int(variant.get("THREADS", THREADS))
    tile = threads * int(variant.get("PER_THREAD", PER_THREAD))
    defines = tuple(f"{name}={int(value)}" for name, value in sorted(variant.items()))
    tiles = blocks(h * w, tile)
    capacity = tiles * k
    keys = cp.empty((k_count, capacity), np.uint64)
    fill = cp.zeros((2, k_count), np.int32)
    rows = cp.empty((k_count, k, 5 + t_dim), np.float32)
    counts = cp.empty(k_count, np.int32)
    kernel("nms", "nms_tiles", defines)((tiles, k_count), (threads,), (
        heatmaps, np.int32(k_count), np.int32(h), np.int32(w),
        np.float32(threshold_f32(threshold)), np.int32(kernel_size // 2), np.int32(k), keys, fill))
    kernel("nms", "nms_select", defines)((k_count,), (SELECT_THREADS,), (
        keys, fill, np.int32(capacity), heatmaps, tags, np.int32(k_count), np.int32(h),
        np.int32(w), np.int32(t_dim), np.int32(k), rows, counts))
    return DeviceCandidates(rows, counts)


def adjust_with_shifts(persons: np.ndarray, cand: Candidates, shifts: np.ndarray) -> np.ndarray:
    """:func:`swahr_infer.decode.adjust_joints` from the candidates' shifts instead of the maps.

    Every found joint of a grouped person is one of its joint's candidates (same x, y), whose
    row carries the shifts the CPU function would compute on the heatmap.

    Args:
        persons: float32 [N, K, 3 + T] from grouping (integer x, y).
        cand: the candidates grouping used; shifts: float32 [K, k, 2] (dx, dy) per candidate.

    Returns:
        A copy of ``persons`` with found joints at ``x + dx + 0.5``, ``y + dy + 0.5``.
    """
    out = persons.copy()
    pi, ji = np.nonzero(out[:, :, 2] > 0)
    if pi.size == 0:
        return out
    xy = out[pi, ji, :2].astype(np.int32)                      # [n, 2]
    same = np.all(cand.xy[ji] == xy[:, None, :], axis=2)       # [n, k]
    same &= np.arange(cand.xy.shape[1])[None, :] < cand.counts[ji][:, None]
    if not same.any(axis=1).all():
        raise AssertionError("a grouped joint is not among its joint's candidates")
    slot = np.argmax(same, axis=1)
    dx, dy = shifts[ji, slot, 0], shifts[ji, slot, 1]
    half = np.float32(0.5)
    out[pi, ji, 0] = (out[pi, ji, 0] + dx) + half
    out[pi, ji, 1] = (out[pi, ji, 1] + dy) + half
    return out
