"""Training targets for SWAHR / HigherHRNet, with the official target generators' semantics.

* :func:`heatmap_targets` — one Gaussian per labelled joint at one output resolution.  As in the
  official generator: the peak sits on the integer pixel ``(int(x), int(y))`` (truncation), the
  kernel is a ``6 sigma + 3`` wide patch centred ``3 sigma + 1`` into it and pasted at
  ``round(x - 3 sigma - 1)``, overlapping people are merged with the maximum, and joints with
  ``v == 0`` or outside the map are skipped.  The official configs use sigma 2 at every stage.
* :func:`joint_indices` — where each person's labelled joints lie in the flattened ``K x H x W``
  tag map, the input of the associative-embedding loss: per person, the valid joints are packed
  at the front as ``(k * H * W + y * W + x, 1)``, the rest ``(0, 0)``; people beyond
  ``max_people`` are dropped (the official default is 30).
* :func:`keypoints_to_output` — input-pixel keypoints to one output resolution.

Pure numpy; shapes in the docstrings.  K = number of joints.
"""

from __future__ import annotations

from functools import lru_cache
from typing import List, Sequence, Tuple, Union

import numpy as np

Res = Union[int, Tuple[int, int]]  # a square side, or (height, width)


def _hw(res: Res) -> Tuple[int, int]:
    return (res, res) if isinstance(res, (int, np.integer)) else (int(res[0]), int(res[1]))


@lru_cache(maxsize=16)
def gaussian_patch(sigma: float) -> np.ndarray:
    """The official kernel: np.ndarray[S, S] float64, S = len(arange(0, 6 sigma + 3)),
    exp(-d^2 / (2 sigma^2)) around (3 sigma + 1, 3 sigma + 1).  Read-only (cached)."""
    coords = np.arange(0, 6 * sigma + 3, 1, dtype=float)
    centre = 3 * sigma + 1
    d2 = (coords[None, :] - centre) ** 2 + (coords[:, None] - centre) ** 2
    patch = np.exp(-d2 / (2 * sigma ** 2))
    patch.flags.writeable = False
    return patch


def heatmap_targets(keypoints: np.ndarray, res: Res, sigma: float = 2.0) -> np.ndarray:
    """Gaussian heatmaps for all people at one output resolution.

    keypoints: np.ndarray[N, K, >=3], (x, y, v) in output-map pixels; v > 0 means labelled.
    res: output side (square) or (height, width).  sigma: Gaussian std in output pixels.
    Returns np.ndarray[K, H, W] float32 in [0, 1], 1 exactly on each joint's integer pixel.
    """
    height, width = _hw(res)
    num_joints = keypoints.shape[1]
    maps = np.zeros((num_joints, height, width), np.float32)
    patch = gaussian_patch(float(sigma))
    reach = 3 * sigma + 1
    for person in keypoints:
        for k, (x, y, v) in enumerate(person[:, :3]):
            if v <= 0:
                continue
            xi, yi = int(x), int(y)  # truncation, as the official generator does
            if xi < 0 or yi < 0 or xi >= width or yi >= height:
                continue
            left, top = int(np.round(xi - reach)), int(np.round(yi - reach))
            right, bottom = int(np.round(xi + reach + 1)), int(np.round(yi + reach + 1))
            x0, x1 = max(0, left), min(right, width)
            y0, y1 = max(0, top), min(bottom, height)
            window = maps[k, y0:y1, x0:x1]
            np.maximum(window, patch[y0 - top:y1 - top, x0 - left:x1 - left], out=window)
    return maps


def joint_indices(keypoints: np.ndarray, res: Res, max_people: int = 30) -> np.ndarray:
    """Flat tag-map indices of each person's labelled joints (the AE loss input).

    keypoints: np.ndarray[N, K, >=3] in output-map pixels.
    Returns np.ndarray[max_people, K, 2] int64: for person i, its joints with v > 0 inside the
    map come first, in joint order, as (k * H * W + int(y) * W + int(x), 1); unused slots (0, 0).
    """
    height, width = _hw(res)
    num_joints = keypoints.shape[1]
    out = np.zeros((max_people, num_joints, 2), np.int64)
    for i, person in enumerate(keypoints[:max_people]):
        slot = 0
        for k, (x, y, v) in enumerate(person[:, :3]):
            xi, yi = int(x), int(y)
            if v > 0 and 0 <= xi < width and 0 <= yi < height:
                out[i, slot] = (k * height * width + yi * width + xi, 1)
                slot += 1
    return out


def keypoints_to_output(keypoints: np.ndarray, input_size: Res, res: Res) -> np.ndarray:
    """Scale input-image keypoints to an output map: x * W_out / W_in, y * H_out / H_in.

    This is what the official training affine does for an unrotated, unscaled crop
    (its output matrix is the input matrix scaled by output / input size).
    keypoints: np.ndarray[N, K, C] (x, y, v, ...).  Returns a scaled copy (float64).
    """
    in_h, in_w = _hw(input_size)
    out_h, out_w = _hw(res)
    out = np.array(keypoints, dtype=np.float64, copy=True)
    out[..., 0] *= out_w / in_w
    out[..., 1] *= out_h / in_h
    return out


def stage_targets(keypoints: np.ndarray, input_size: Res, output_sizes: Sequence[Res],
                  sigma: float = 2.0, max_people: int = 30
                  ) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """Heatmaps and joint indices for every stage.

    keypoints: np.ndarray[N, K, 3] in input-image pixels.
    Returns ([np.ndarray[K, H_s, W_s] float32 per stage], [np.ndarray[max_people, K, 2] per stage]).
    """
    heatmaps, indices = [], []
    for res in output_sizes:
        kp = keypoints_to_output(keypoints, input_size, res)
        heatmaps.append(heatmap_targets(kp, res, sigma))
        indices.append(joint_indices(kp, res, max_people))
    return heatmaps, indices
