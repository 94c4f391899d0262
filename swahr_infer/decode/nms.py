"""Step 1-2 of decoding: heatmap peaks (NMS), the top-k per joint, and the tags at the peaks.

Official behaviour (SPEC.md "Decoding" 1-2): a pixel survives NMS when it equals the maximum of
its ``kernel x kernel`` neighbourhood (the border padded with -inf, so padding never wins), and
the ``max_num_people`` largest survivors of each joint are the candidates, in descending value.
Only candidates whose value is above the detection threshold are ever used, so this module finds
exactly those: tiles whose maximum is not above the threshold are skipped, and the local-maximum
test runs on the few pixels above it instead of on the whole map.

Tie order: candidates are sorted by value descending, then by flat index ``y * W + x``
ascending.  The official decoder uses ``torch.topk`` there, whose order among exactly equal
values is unspecified; real network outputs practically never tie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .tiles import MapTiles

__all__ = ["Candidates", "find_candidates", "threshold_f32"]


@dataclass(frozen=True)
class Candidates:
    """Per-joint candidates, padded to ``k`` slots.

    Attributes:
        xy: int32 [K, k, 2] (x, y) heatmap pixel of each candidate.
        values: float32 [K, k] heatmap value, descending within a joint.
        tags: float32 [K, k, T] tag vector at the candidate.
        counts: int32 [K] number of real candidates per joint (value above the detection
            threshold); slots ``counts[j]:`` are padding (xy 0, value 0, tags 0).
    """

    xy: np.ndarray
    values: np.ndarray
    tags: np.ndarray
    counts: np.ndarray

    def joint(self, j: int):
        """(xy [n, 2], values [n], tags [n, T]) of joint ``j``'s real candidates."""
        n = int(self.counts[j])
        return self.xy[j, :n], self.values[j, :n], self.tags[j, :n]


def threshold_f32(threshold: float) -> np.float32:
    """The largest float32 ``t`` with ``v > t  <=>  float(v) > threshold`` for float32 ``v``.

    The official decoder compares float32 peak values with the threshold in float64; comparing
    in float32 against ``np.float32(0.1)`` would drop a value equal to ``float32(0.1)``, which
    is above 0.1 in float64.
    """
    t = np.float32(threshold)
    if float(t) > threshold:
        t = np.nextafter(t, np.float32(-np.inf))
    return t


def find_candidates(
    heatmaps: np.ndarray,
    tags: np.ndarray,
    *,
    threshold: float,
    k: int = 30,
    kernel: int = 5,
    tiles: Optional[MapTiles] = None,
) -> Candidates:
    """Peaks above ``threshold`` per joint, as the official NMS + top-k would rank them.

    Args:
        heatmaps: float32 [K, H, W], C-contiguous.
        tags: float32 [K, H, W, T], C-contiguous.
        threshold: detection threshold (>= 0); only values strictly above it are kept.
        k: at most this many candidates per joint (the official top-k, = max_num_people).
        kernel: odd NMS window side (official 5, padding kernel // 2).
        tiles: tile summaries to reuse (refine needs the same heatmap tile maxima).

    Returns:
        :class:`Candidates`.
    """
    num_joints, h, w = heatmaps.shape
    t_dim = tags.shape[3]
    tiles = tiles if tiles is not None else MapTiles(heatmaps, tags)
    t32 = threshold_f32(threshold)
    xy = np.zeros((num_joints, k, 2), np.int32)
    values = np.zeros((num_joints, k), np.float32)
    tag_out = np.zeros((num_joints, k, t_dim), np.float32)
    counts = np.zeros(num_joints, np.int32)
    for j in range(num_joints):
        hot = np.flatnonzero(tiles.heat_max(j) > t32)
        if hot.size == 0:
            continue
        plane = heatmaps[j].reshape(-1)
        flat = tiles.tile_pixels(hot).ravel()
        if tiles.partial:  # clamped border tiles repeat pixels
            flat = np.unique(flat)
        v = plane[flat]
        above = v > t32
        flat, v = flat[above], v[above]
        peak = _local_max(plane, h, w, flat, v, kernel // 2)
        flat, v = flat[peak], v[peak]
        order = np.lexsort((flat, -v))[:k]
        flat = flat[order]
        n = order.size
        counts[j] = n
        xy[j, :n, 0] = flat % w
        xy[j, :n, 1] = flat // w
        values[j, :n] = v[order]
        tag_out[j, :n] = tags[j].reshape(-1, t_dim)[flat]
    return Candidates(xy, values, tag_out, counts)


def _local_max(plane: np.ndarray, h: int, w: int, flat: np.ndarray, v: np.ndarray,
               radius: int) -> np.ndarray:
    """bool [n]: ``v`` (= plane[flat]) equals the max of its (2r+1)^2 window inside the map.

    ``plane`` is one flattened [H * W] heatmap.  Clamping neighbour coordinates to the map keeps
    them inside the true window, so the result equals a max filter with -inf padding.  A cheap
    4-neighbour test removes most pixels first.
    """
    if radius == 0 or v.size == 0:
        return np.ones(v.shape, bool)
    ys, xs = np.divmod(flat, w)
    up, down = np.maximum(ys - 1, 0) * w, np.minimum(ys + 1, h - 1) * w
    left, right = np.maximum(xs - 1, 0), np.minimum(xs + 1, w - 1)
    row = ys * w
    keep = (v >= plane[row + left]) & (v >= plane[row + right])
    keep &= (v >= plane[up + xs]) & (v >= plane[down + xs])
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return keep
    off = np.arange(-radius, radius + 1)
    wy = np.minimum(np.maximum(ys[idx, None, None] + off[None, :, None], 0), h - 1)
    wx = np.minimum(np.maximum(xs[idx, None, None] + off[None, None, :], 0), w - 1)
    window_max = plane[wy * w + wx].reshape(idx.size, -1).max(axis=1)
    keep[idx] = v[idx] >= window_max
    return keep
