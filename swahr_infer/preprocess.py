"""Image -> network input batches, one per test scale, as the official test pipeline builds them.

For each scale ``s`` (official order: descending) the image is warped by an affine onto an
input whose short side is ``round64(min_scale * input_size) * s / min_scale`` pixels and whose
long side keeps the aspect ratio (rounded up to a multiple of 64 at the smallest scale), then
scaled to [0, 1], normalised with the model's mean / std (float32, the same operations as
torchvision's ``ToTensor`` + ``Normalize``, so the values are bit-identical) and laid out
CHW.  With flip on, the batch holds the image and its horizontal mirror: [2, 3, H, W].

All heatmaps are later projected to the input size of scale 1.0 (the "projected size").  The
official code maps the decoded coordinates back with the ``center`` / ``scale`` left over from
the *last* loop iteration — the smallest scale — together with the projected size; this module
reproduces that (see :func:`prepare`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import cv2
import numpy as np

from .affine import PIXELS_PER_SCALE_UNIT, box_affine
from .errors import OptionError


def round_up_64(value: float) -> int:
    """``int((value + 63) // 64 * 64)``: the official rounding of sizes to multiples of 64.

    A ceiling for whole numbers only: fractional values can round down (64.5 -> 64).
    """
    return int((value + 63) // 64 * 64)


@dataclass(frozen=True)
class ScaleGeometry:
    """Where one test scale's network input comes from.

    Attributes:
        factor: the test scale ``s``.
        size: (width, height) of the network input.
        center: (cx, cy) image pixels, ``(int(w/2 + 0.5), int(h/2 + 0.5))``.
        box_scale: (sx, sy) of the source box in units of 200 pixels.
    """

    factor: float
    size: Tuple[int, int]
    center: Tuple[int, int]
    box_scale: Tuple[float, float]

    def affine(self, output_size: Tuple[int, int] = None, *, inverse: bool = False) -> np.ndarray:
        """float64 [2, 3] image -> input affine (or its inverse), for ``size`` unless given."""
        return box_affine(self.center, self.box_scale, output_size or self.size, inverse=inverse)


def scale_geometry(image_hw: Tuple[int, int], input_size: int, factor: float,
                   min_factor: float) -> ScaleGeometry:
    """Network input size, centre and box of one test scale (official ``get_multi_scale_size``).

    Args:
        image_hw: (height, width) of the original image.
        input_size: the model's nominal input size (e.g. 512).
        factor: the test scale ``s``.
        min_factor: the smallest test scale of the run (sizes are rounded at that scale).
    """
    h, w = int(image_hw[0]), int(image_hw[1])
    center = (int(w / 2.0 + 0.5), int(h / 2.0 + 0.5))
    base = round_up_64(min_factor * input_size)
    if w < h:  # portrait: the width is the short side
        out_w = int(base * factor / min_factor)
        out_h = int(round_up_64(base / w * h) * factor / min_factor)
        box = (w / PIXELS_PER_SCALE_UNIT, out_h / out_w * w / PIXELS_PER_SCALE_UNIT)
    else:
        out_h = int(base * factor / min_factor)
        out_w = int(round_up_64(base / h * w) * factor / min_factor)
        box = (out_w / out_h * h / PIXELS_PER_SCALE_UNIT, h / PIXELS_PER_SCALE_UNIT)
    return ScaleGeometry(float(factor), (out_w, out_h), center, box)


def warp(image: np.ndarray, geometry: ScaleGeometry) -> np.ndarray:
    """Warp ``image`` [h, w, 3] uint8 onto the network input [H, W, 3] uint8.

    ``cv2.warpAffine`` defaults, as in the official code: bilinear, constant 0 border.
    """
    return cv2.warpAffine(image, geometry.affine(), geometry.size)


def normalization_table(mean: Sequence[float], std: Sequence[float],
                        channel_order: str = "rgb") -> np.ndarray:
    """float32 [3, 256]: normalised value of each uint8 level for each *model* (RGB) channel.

    Row ``c`` is ``(v / 255 - mean[c]) / std[c]`` computed in float32 in that order, which is
    what torchvision's ``ToTensor`` + ``Normalize`` compute, so a table look-up gives the same
    bits as the official pipeline at a fraction of the cost.  ``channel_order="bgr"`` permutes
    the rows so that a BGR image can be normalised without converting it first (channel ``c`` of
    the image feeds row ``c`` of the returned table).
    """
    levels = np.arange(256, dtype=np.float32)
    mean32 = np.asarray(mean, np.float32)
    std32 = np.asarray(std, np.float32)
    table = ((levels[None, :] / np.float32(255.0)) - mean32[:, None]) / std32[:, None]
    if channel_order == "bgr":
        table = table[::-1]
    elif channel_order != "rgb":
        raise OptionError(f"channel_order must be 'rgb' or 'bgr', not {channel_order!r}")
    return np.ascontiguousarray(table, dtype=np.float32)


def to_batch(warped: np.ndarray, table: np.ndarray, *, flip: bool,
             channel_order: str = "rgb") -> np.ndarray:
    """Normalise a warped uint8 image into a network batch.

    Args:
        warped: [H, W, 3] uint8 in ``channel_order``.
        table: [3, 256] float32 from :func:`normalization_table` with the same ``channel_order``.
        flip: add the horizontally mirrored copy as the second item.

    Returns:
        float32 [2 if flip else 1, 3, H, W], model (RGB) channel order.  Mirroring the normalised
        image equals normalising the mirrored image, as the official code relies on.
    """
    h, w = warped.shape[:2]
    batch = np.empty((2 if flip else 1, 3, h, w), np.float32)
    planes = cv2.split(warped)
    for c, plane in enumerate(planes):
        dst = c if channel_order == "rgb" else 2 - c  # model channel fed by this image plane
        cv2.LUT(plane, table[c].reshape(1, 256), dst=batch[0, dst])
        if flip:
            cv2.flip(batch[0, dst], 1, dst=batch[1, dst])
    return batch


@dataclass
class Prepared:
    """One image made ready for the network.

    Attributes:
        geometries: one per scale, descending scale order (the official loop order).
        batches: float32 [N, 3, H_s, W_s] per scale, same order.
        projected_size: (width, height) all heatmaps are projected to (input size at scale 1.0).
        to_image: float64 [2, 3] affine, projected-heatmap pixels -> original image pixels
            (the official final transform: smallest scale's center/scale, projected size).
        image_hw: (height, width) of the original image.
    """

    geometries: List[ScaleGeometry]
    batches: List[np.ndarray]
    projected_size: Tuple[int, int]
    to_image: np.ndarray
    image_hw: Tuple[int, int]


def plan_scales(image_hw: Tuple[int, int], input_size: int,
                scales: Sequence[float]) -> Tuple[List[ScaleGeometry], Tuple[int, int], np.ndarray]:
    """Geometries (descending scale), projected size and the final heatmap -> image affine."""
    order = sorted((float(s) for s in scales), reverse=True)
    smallest = order[-1]
    geometries = [scale_geometry(image_hw, input_size, s, smallest) for s in order]
    projected = scale_geometry(image_hw, input_size, 1.0, smallest).size
    # the official code reuses the loop's last (smallest-scale) center and scale here
    to_image = geometries[-1].affine(projected, inverse=True)
    return geometries, projected, to_image


def prepare(image: np.ndarray, *, input_size: int, scales: Sequence[float],
            mean: Sequence[float], std: Sequence[float], flip: bool = True,
            channel_order: str = "rgb", table: np.ndarray = None, plan=None) -> Prepared:
    """Warp and normalise ``image`` [h, w, 3] uint8 for every test scale.

    ``table`` may be passed to reuse a :func:`normalization_table` across calls, and ``plan``
    to reuse the :func:`plan_scales` result of this image (e.g. after checking its sizes).
    """
    if table is None:
        table = normalization_table(mean, std, channel_order)
    image_hw = image.shape[:2]
    geometries, projected, to_image = plan or plan_scales(image_hw, input_size, scales)
    batches = [to_batch(warp(image, g), table, flip=flip, channel_order=channel_order)
               for g in geometries]
    return Prepared(geometries, batches, projected, to_image, (int(image_hw[0]), int(image_hw[1])))
