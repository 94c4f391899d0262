"""Fusion on the device: flip-back, joint reorder, mean, projection and scale mean.

Numpy reference: :func:`swahr_infer.fusion.fuse` (same rules, same order of operations:
image / mirror mean at network resolution, then bilinear projection with half-pixel centres,
then the sum over scales in descending order divided by their number; tags from scale 1.0).
Kernels: ``kernels/fusion.cu``.  Results agree with the CPU path to float32 rounding (the
interpolation weights are computed the same way; only the order of a multiply-add can differ).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import OutputError
from ..fusion import FusedMaps, check_shapes
from .device import blocks, import_cupy, kernel


@dataclass
class DeviceMaps:
    """The decoder's input on the device, at the projected size (H, W).

    Attributes:
        heatmaps: CuPy float32 [K, H, W].
        tags: CuPy float32 [K, H, W, T] (T = 2 with flip).
        scale_map: CuPy float32 [K, h, w] (scale 1.0, image) or None.
        nonfinite: CuPy int32 [1], 1 when a network output held NaN or infinity.
    """

    heatmaps: object
    tags: object
    scale_map: Optional[object]
    nonfinite: object

    @property
    def size(self) -> Tuple[int, int]:
        """(width, height) of the maps."""
        return self.heatmaps.shape[2], self.heatmaps.shape[1]

    def check_finite(self) -> None:
        """Raise :class:`OutputError` if a network output was not finite (synchronises)."""
        if int(self.nonfinite.get()[0]):
            raise OutputError(NONFINITE_MESSAGE)

    def to_host(self) -> FusedMaps:
        """The same maps as a host :class:`~swahr_infer.fusion.FusedMaps` (synchronises)."""
        scale_map = None if self.scale_map is None else self.scale_map.get()
        return FusedMaps(self.heatmaps.get(), self.tags.get(), scale_map)


NONFINITE_MESSAGE = ("the network produced non-finite values; the model or engine is broken "
                     "(e.g. fp16 overflow) - re-export it or use fp32")


def _scale(dst: int, src: int) -> np.float64:
    """cv2.resize's source step for a destination of ``dst`` pixels from ``src``."""
    return np.float64(1.0 / (dst / src))


def flag_nonfinite(array, flag) -> None:
    """Queue a check that sets ``flag[0] = 1`` when ``array`` holds NaN or infinity."""
    n = int(array.size)
    if n == 0:
        return
    grid = min(blocks(n, 256), 4096)
    kernel("fusion", "flag_nonfinite")((grid,), (256,), (array, np.int64(n), flag))


def fuse_device(per_scale: List[Tuple[float, Dict[str, object]]], *, flip_index: Sequence[int],
                flip: bool, projected_size: Tuple[int, int], out: Optional[DeviceMaps] = None
                ) -> DeviceMaps:
    """Fuse the device outputs of all test scales (queued on the current CuPy stream).

    Args:
        per_scale: (scale factor, outputs) in descending scale order; outputs are CuPy float32
            ``heatmaps`` and ``tags`` [N, K, h_s, w_s] (N = 2 with flip), optionally ``scales``,
            C-contiguous.
        flip_index: the layout's joint permutation under mirroring.
        flip: whether item 1 of each batch is the mirrored image.
        projected_size: (W, H) of the fused maps.
        out: maps of the right shapes to write into (reused across images), or None.

    Returns:
        :class:`DeviceMaps`; its ``nonfinite`` flag is set on the device (read it with the other
        results, or call :meth:`DeviceMaps.check_finite`).

    Raises:
        OutputError: shapes that disagree with the joint count (checked on the host).
    """
    cp = import_cupy()
    if not per_scale:
        raise ValueError("no scales to fuse")
    width, height = projected_size
    k_count = len(flip_index)
    t_dim = 2 if flip else 1
    if out is None or out.heatmaps.shape != (k_count, height, width) \
            or out.tags.shape != (k_count, height, width, t_dim):
        out = DeviceMaps(cp.empty((k_count, height, width), np.float32),
                         cp.empty((k_count, height, width, t_dim), np.float32), None,
                         cp.zeros(1, np.int32))
    else:
        out.nonfinite.fill(0)
        out.scale_map = None
    index = cp.asarray(np.asarray(flip_index if flip else range(k_count), np.int32))
    project_heatmaps = kernel("fusion", "project_heatmaps")
    project_tags = kernel("fusion", "project_tags")
    block = (32, 8, 1)
    grid = (blocks(width, 32), blocks(height, 8), k_count)
    tag_factor = per_scale[0][0] if len(per_scale) == 1 else 1.0
    found_tags = False
    for i, (factor, outputs) in enumerate(per_scale):
        check_shapes(outputs, k_count, t_dim)
        for value in outputs.values():
            if value.dtype != np.float32 or not value.flags.c_contiguous:
                raise OutputError("device outputs must be C-contiguous float32 arrays")
            flag_nonfinite(value, out.nonfinite)
        hm = outputs["heatmaps"]
        h, w = hm.shape[2:]
        last = i == len(per_scale) - 1
        divisor = np.float32(len(per_scale) if last and len(per_scale) > 1 else 0)
        project_heatmaps(grid, block, (
            hm, np.int32(k_count), np.int32(h), np.int32(w), index, np.int32(flip),
            out.heatmaps, np.int32(height), np.int32(width), _scale(width, w), _scale(height, h),
            np.int32(i > 0), divisor))
        if factor == tag_factor:
            found_tags = True
            project_tags(grid, block, (
                outputs["tags"], np.int32(k_count), np.int32(h), np.int32(w), np.int32(t_dim),
                index, out.tags, np.int32(height), np.int32(width),
                _scale(width, w), _scale(height, h)))
            if "scales" in outputs:
                # a copy: backends may reuse their output buffers (CUDA graphs)
                out.scale_map = outputs["scales"][0].copy()
    if not found_tags:
        raise ValueError("the test scales must include 1.0: the tag maps are taken from it")
    return out
