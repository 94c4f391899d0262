"""Training augmentation: random similarity transform and horizontal flip, on an image and its keypoints.

The ranges follow the official COCO configs (rotation +-30 deg, scale 0.75..1.5 of the shorter
side, translation up to 40 * scale pixels, flip with probability 0.5).  Two deliberate
differences from the official code, both because the targets are made afterwards from
input-pixel keypoints: the flip mirrors keypoints at the input resolution (x -> W - 1 - x,
exact for OpenCV's pixel-centre convention) instead of at each output resolution
(x -> W_out - 1 - x, off by up to 3/4 of an output pixel), and the keypoint mapping is one
matrix instead of one per output size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence, Tuple

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation ranges.  scale > 1 zooms out (the crop box grows), as in the official code."""

    max_rotation: float = 30.0
    min_scale: float = 0.75
    max_scale: float = 1.5
    max_translate: float = 40.0
    flip_prob: float = 0.5


def similarity_matrix(center: Tuple[float, float], box: float, out_size: int, rotation_deg: float = 0.0
                      ) -> np.ndarray:
    """2x3 matrix mapping a square box of side ``box`` centred on ``center`` onto an
    ``out_size`` square, rotated by ``rotation_deg`` about the output centre."""
    s = out_size / box
    a = math.radians(rotation_deg)
    c, d = s * math.cos(a), s * math.sin(a)
    half = out_size / 2.0
    return np.array([
        [c, -d, half - c * center[0] + d * center[1]],
        [d, c, half - d * center[0] - c * center[1]],
    ])


def apply_matrix(keypoints: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """keypoints np.ndarray[N, K, C] (x, y, ...) -> a copy with x, y mapped by the 2x3 matrix."""
    out = np.array(keypoints, dtype=np.float64, copy=True)
    xy = out[..., :2]
    out[..., :2] = xy @ matrix[:, :2].T + matrix[:, 2]
    return out


def random_affine(rng: np.random.Generator, image: np.ndarray, keypoints: np.ndarray, out_size: int,
                  cfg: AugmentConfig = AugmentConfig()) -> Tuple[np.ndarray, np.ndarray]:
    """Warp image np.ndarray[H, W, 3] and keypoints np.ndarray[N, K, 3] to an out_size square crop.

    Joints that leave the crop keep their label; the target generators skip them.
    """
    h, w = image.shape[:2]
    box = min(h, w) * rng.uniform(cfg.min_scale, cfg.max_scale)
    center = [w / 2.0, h / 2.0]
    if cfg.max_translate > 0:
        limit = int(cfg.max_translate * box / 200.0)
        if limit > 0:
            center[0] += int(rng.integers(-limit, limit))
            center[1] += int(rng.integers(-limit, limit))
    rotation = rng.uniform(-1.0, 1.0) * cfg.max_rotation
    m = similarity_matrix(tuple(center), box, out_size, rotation)
    warped = cv2.warpAffine(image, m, (out_size, out_size), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return warped, apply_matrix(keypoints, m)


def hflip(image: np.ndarray, keypoints: np.ndarray, flip_index: Sequence[int]
          ) -> Tuple[np.ndarray, np.ndarray]:
    """Mirror image np.ndarray[H, W, 3] and keypoints np.ndarray[N, K, C]; joints swap sides."""
    w = image.shape[1]
    kp = np.array(keypoints, dtype=np.float64, copy=True)[:, list(flip_index)]
    labelled = kp[..., 2] > 0
    kp[..., 0] = np.where(labelled, w - 1 - kp[..., 0], kp[..., 0])
    return np.ascontiguousarray(image[:, ::-1]), kp
