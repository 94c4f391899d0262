"""The box-to-image affine of the official test pipeline, and applying 2x3 affines to points.

HigherHRNet describes the region fed to the network by a ``center`` (pixels) and a ``scale``
(box width and height divided by 200).  The warp is built from three point pairs — the box
centre, the middle of its top edge, and a third point a quarter turn away — exactly as the
official ``get_affine_transform`` does: float32 points, solved by ``cv2.getAffineTransform``
(float64 result).  Building it the same way, rather than writing the closed form, keeps the
matrix bit-identical to the official one, which keeps the warped pixels identical.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import cv2
import numpy as np

# One unit of ``scale`` is 200 pixels (an HRNet convention kept by the official code).
PIXELS_PER_SCALE_UNIT = 200.0


def _box_points(center: Sequence[float], scale: Sequence[float],
                output_size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """Three float32 point pairs (source box in the image, destination in the output).

    Returns:
        src, dst: float32 [3, 2] each, (x, y) per row: centre, top-edge middle, third point.
    """
    box_w = float(scale[0]) * PIXELS_PER_SCALE_UNIT
    out_w, out_h = float(output_size[0]), float(output_size[1])
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    cx, cy = float(center[0]), float(center[1])
    # the first two pairs are summed in float64 and stored as float32, as the official code does
    src[0] = (cx, cy)
    src[1] = (cx, cy - 0.5 * box_w)
    dst[0] = (out_w * 0.5, out_h * 0.5)
    dst[1] = (out_w * 0.5, out_h * 0.5 - 0.5 * out_w)
    for pts in (src, dst):
        # third point: rotate (p0 - p1) by +90 degrees around p1, in float32 like the original
        d = pts[0] - pts[1]
        pts[2] = pts[1] + np.array([-d[1], d[0]], np.float32)
    return src, dst


def box_affine(center: Sequence[float], scale: Sequence[float], output_size: Tuple[int, int],
               *, inverse: bool = False) -> np.ndarray:
    """Affine mapping the box (``center``, ``scale``) of the image onto an output of ``output_size``.

    Args:
        center: (cx, cy) in image pixels.
        scale: (sx, sy), box size / 200; only ``sx`` sets the (uniform) zoom, as in the official
            code (the output aspect ratio decides the box height).
        output_size: (width, height) of the output in pixels.
        inverse: map output pixels back to image pixels instead.

    Returns:
        float64 [2, 3] matrix M, ``[x', y'] = M @ [x, y, 1]``.
    """
    src, dst = _box_points(center, scale, output_size)
    if inverse:
        return cv2.getAffineTransform(dst, src)
    return cv2.getAffineTransform(src, dst)


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map points with a 2x3 affine.

    Args:
        points: [..., 2] (x, y), any float dtype.
        matrix: [2, 3].

    Returns:
        float64 [..., 2].
    """
    pts = np.asarray(points, np.float64)
    m = np.asarray(matrix, np.float64)
    return pts @ m[:, :2].T + m[:, 2]
