"""Preprocessing on the device: warp, normalise, mirror - one kernel launch per test scale.

Numpy reference: :func:`swahr_infer.preprocess.warp` (``cv2.warpAffine``) followed by
:func:`swahr_infer.preprocess.to_batch`.  The kernel (``kernels/preprocess.cu``) computes the
same uint8 warp as the installed OpenCV and then looks the levels up in the same
:func:`~swahr_infer.preprocess.normalization_table`, so the batches agree bit for bit wherever
the warped levels do.

OpenCV has had two bilinear uint8 warps: fixed point (1/32-pixel weights, positions rounded to
1/1024; OpenCV up to 4.x) and float (the warp kernels of OpenCV 5).  They differ by up to a few
levels on sharp images.  :func:`warp_mode` probes the installed cv2 once with
:func:`warp_reference` (both algorithms in numpy) and the kernel follows the one it uses.
"""

from __future__ import annotations

import functools
import logging
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from ..preprocess import ScaleGeometry, normalization_table
from .device import blocks, import_cupy, kernel

log = logging.getLogger(__name__)

MODES = ("fixed", "float")


def _levels(image: np.ndarray, ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    """image[iy, ix] as int64 [..., 3], 0 where (ix, iy) is outside (BORDER_CONSTANT 0)."""
    h, w = image.shape[:2]
    inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
    values = image[np.clip(iy, 0, h - 1), np.clip(ix, 0, w - 1)].astype(np.int64)
    return np.where(inside[..., None], values, 0)


def _fma32(a, b, c) -> np.ndarray:
    """float32 fma emulated in float64 (exact product; one rounding up to rare double rounding)."""
    return (np.asarray(a, np.float64) * np.asarray(b, np.float64)
            + np.asarray(c, np.float64)).astype(np.float32)


def warp_reference(image: np.ndarray, matrix: np.ndarray, size: Tuple[int, int],
                   mode: str) -> np.ndarray:
    """``cv2.warpAffine(image, matrix, size)`` (bilinear, constant 0) in numpy, either algorithm.

    Args:
        image: uint8 [h, w, 3].
        matrix: float64 [2, 3] image -> output affine (as given to cv2.warpAffine).
        size: (width, height) of the output.
        mode: "fixed" (OpenCV <= 4.x) or "float" (OpenCV 5 warp kernels).

    Returns:
        uint8 [height, width, 3]: what the kernel computes for this mode.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    width, height = size
    inv = cv2.invertAffineTransform(np.asarray(matrix, np.float64))
    h, w = image.shape[:2]
    xs = np.arange(width)[None, :]
    ys = np.arange(height)[:, None]
    if mode == "fixed":
        # positions in 1/1024 pixels, rounded half to even, plus half a 1/32 step
        x0 = np.rint((inv[0, 1] * ys + inv[0, 2]) * 1024).astype(np.int64) + 16
        y0 = np.rint((inv[1, 1] * ys + inv[1, 2]) * 1024).astype(np.int64) + 16
        sx = (x0 + np.rint(inv[0, 0] * xs * 1024).astype(np.int64)) >> 5
        sy = (y0 + np.rint(inv[1, 0] * xs * 1024).astype(np.int64)) >> 5
        ix, iy, fx, fy = sx >> 5, sy >> 5, (sx & 31)[..., None], (sy & 31)[..., None]
        acc = (_levels(image, ix, iy) * ((32 - fx) * (32 - fy))
               + _levels(image, ix + 1, iy) * (fx * (32 - fy))
               + _levels(image, ix, iy + 1) * ((32 - fx) * fy)
               + _levels(image, ix + 1, iy + 1) * (fx * fy))
        out = (acc * 32 + (1 << 14)) >> 15
    else:
        mx = (ys * inv[0, 1] + inv[0, 2]).astype(np.float32)
        my = (ys * inv[1, 1] + inv[1, 2]).astype(np.float32)
        sx = _fma32(np.float32(inv[0, 0]), xs.astype(np.float32), mx)
        sy = _fma32(np.float32(inv[1, 0]), xs.astype(np.float32), my)
        fx0, fy0 = np.floor(sx), np.floor(sy)
        ix, iy = fx0.astype(np.int64), fy0.astype(np.int64)
        ax, ay = (sx - fx0)[..., None], (sy - fy0)[..., None]
        p = [_levels(image, ix + dx, iy + dy).astype(np.float32) for dy in (0, 1) for dx in (0, 1)]
        v0 = _fma32(ax, p[1] - p[0], p[0])
        v1 = _fma32(ax, p[3] - p[2], p[2])
        out = np.rint(_fma32(ay, v1 - v0, v0)).astype(np.int64)
    outside = (ix >= w) | (ix + 1 < 0) | (iy >= h) | (iy + 1 < 0)
    out[outside] = 0
    return np.clip(out, 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=None)
def warp_mode() -> str:
    """Which bilinear uint8 warp the installed OpenCV uses: "fixed" or "float".

    Probes ``cv2.warpAffine`` on a small random image with a zoom and sub-pixel offsets and
    counts the levels that differ from each :func:`warp_reference` algorithm.  The fixed-point
    one matches OpenCV 4.x exactly; the float one matches OpenCV 5 except for a level on rare
    values within about 1e-5 of a rounding boundary (seen: 2 of 184,320).  When neither comes
    close (a future OpenCV), the closer one is used and a warning is logged.
    """
    rng = np.random.default_rng(12345)
    image = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    matrix = np.array([[1.37, 0.0, -3.3], [0.0, 1.37, 2.71]])
    # a width that is a multiple of 64 like every network input: OpenCV 5 computes the last
    # (width % SIMD width) pixels of a row with scalar code that rounds positions differently
    size = (64, 48)
    expected = cv2.warpAffine(image, matrix, size)
    differ = {mode: int(np.count_nonzero(warp_reference(image, matrix, size, mode) != expected))
              for mode in MODES}
    mode = min(differ, key=differ.get)
    if differ[mode] > expected.size // 100:
        log.warning("OpenCV %s warps with neither known algorithm (levels that differ: %s); "
                    "the GPU preprocessing follows %r", cv2.__version__, differ, mode)
    return mode


class DevicePreprocessor:
    """Uint8 image on the device -> normalised network batch of one test scale.

    Args:
        mean, std: the model's normalisation (RGB).
        mode: "fixed" or "float" warp (default: :func:`warp_mode`, the installed OpenCV's).
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], mode: Optional[str] = None):
        cp = import_cupy()
        self.mode = mode or warp_mode()
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {self.mode!r}")
        self.table = cp.asarray(normalization_table(mean, std, "rgb"))
        self._kernel = kernel("preprocess", "warp_normalize")

    def __call__(self, image, geometry: ScaleGeometry, *, flip: bool, channel_order: str = "rgb",
                 out=None):
        """Queue the warp on the current CuPy stream.

        Args:
            image: CuPy uint8 [h, w, 3], C-contiguous rows (any row pitch), in ``channel_order``.
            geometry: the test scale (:func:`swahr_infer.preprocess.plan_scales`).
            flip: also write the mirrored image as batch item 1.
            channel_order: "rgb" or "bgr" (OpenCV's order).
            out: CuPy float32 [2 if flip else 1, 3, H, W] to write into (allocated if None).

        Returns:
            CuPy float32 [N, 3, H, W], model (RGB) channel order.
        """
        cp = import_cupy()
        if channel_order not in ("rgb", "bgr"):
            raise ValueError(f"channel_order must be 'rgb' or 'bgr', not {channel_order!r}")
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 \
                or image.strides[1:] != (3, 1):
            raise ValueError("image must be a CuPy uint8 [h, w, 3] array with packed pixels")
        width, height = geometry.size
        shape = (2 if flip else 1, 3, height, width)
        if out is None:
            out = cp.empty(shape, np.float32)
        elif out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous float32 array of shape {shape}")
        inv = cv2.invertAffineTransform(geometry.affine())
        h, w = image.shape[:2]
        block = (32, 8)
        grid = (blocks(width, block[0]), blocks(height, block[1]))
        self._kernel(grid, block, (
            image, np.int32(h), np.int32(w), np.int32(image.strides[0]),
            *(np.float64(v) for v in inv.reshape(-1)),
            self.table, out, np.int32(height), np.int32(width),
            np.int32(channel_order == "bgr"), np.int32(flip), np.int32(self.mode == "fixed")))
        return out
