"""Network outputs of every test scale -> one set of heatmaps and tag maps (the decoder's input).

Per scale, from a backend's output batch (item 0: the image, item 1: its mirror when flip is on):

1. the mirror's maps are flipped back along W and their joint channels reordered by the flip
   index (heatmaps and tags alike);
2. heatmaps of the scale = mean of the image's and the mirror's;
3. heatmaps and tags are projected bilinearly (``align_corners=False`` / half-pixel centres;
   ``cv2.resize`` with ``INTER_LINEAR``) to the projected size (the input size at scale 1.0).

Over scales: fused heatmaps = sum over scales in descending order, divided by their number.
Tag maps come from scale 1.0 only (or from the only scale), image and mirror stacked on a last
axis: T = 2 with flip, 1 without.

One deliberate difference in floating-point order, not in maths: the official code projects
the image's and the mirror's heatmaps separately and then averages them; here they are averaged
at network resolution and projected once (bilinear interpolation is linear, so only the last
bit of rounding can differ, far below the 1e-6..1e-4 that separates two inference engines).
It saves a full-resolution resize per scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .errors import ModelError, OutputError


@dataclass
class FusedMaps:
    """The decoder's input, at the projected size (H, W).

    Attributes:
        heatmaps: float32 [K, H, W], C-contiguous.
        tags: float32 [K, H, W, T], C-contiguous (T = 2 with flip: image, mirror), the layout
            the decoder reads without a copy.
        scale_map: float32 [K, h, w] stage-1 SAHR scale map of scale 1.0 at network resolution
            (image, not mirror), or None when the model has no ``scales`` output.
    """

    heatmaps: np.ndarray
    tags: np.ndarray
    scale_map: Optional[np.ndarray] = None

    @property
    def size(self) -> Tuple[int, int]:
        """(width, height) of the maps."""
        return self.heatmaps.shape[2], self.heatmaps.shape[1]


def check_finite(outputs: Dict[str, np.ndarray], where: str = "") -> None:
    """Raise :class:`OutputError` if any output holds NaN or infinity.

    ``min``/``max`` propagate NaN and expose infinities in one cheap pass each.
    """
    for name, value in outputs.items():
        if value.size and not (np.isfinite(value.min()) and np.isfinite(value.max())):
            raise OutputError(
                f"the network produced non-finite values in {name!r}{where}; the model or "
                "engine is broken (e.g. fp16 overflow) — re-export it or use fp32")


def check_shapes(outputs: Dict[str, np.ndarray], num_joints: int, batch: int) -> None:
    """Raise :class:`ModelError` unless every output is [batch, K, h, w] with one (h, w).

    A :class:`ModelError`, not an :class:`OutputError`: outputs of the wrong shape mean the
    model does not match its own metadata, which no other image will change, so a folder run
    stops at once instead of skipping every image for the same reason."""
    shapes = {name: value.shape for name, value in outputs.items()}
    first = next(iter(shapes.values()))
    for name, shape in shapes.items():
        if len(shape) != 4 or shape[0] != batch or shape[1] != num_joints or shape[2:] != first[2:]:
            raise ModelError(f"the model's output {name!r} has shape {shape}; its metadata "
                             f"implies [{batch}, {num_joints}, h, w] like the others ({shapes})")


def _buffer(workspace: Optional[Dict], name: str, shape: Tuple[int, ...]) -> np.ndarray:
    """A float32 array of ``shape``, reused from ``workspace`` when one of that shape is there.

    Fresh 100 MB arrays cost page faults on every call (about a third of the projection time
    at 1080p); reusing them across images avoids that.
    """
    if workspace is None:
        return np.empty(shape, np.float32)
    array = workspace.get(name)
    if array is None or array.shape != shape:
        array = workspace[name] = np.empty(shape, np.float32)
    return array


def _resize_into(src: np.ndarray, dst: np.ndarray) -> None:
    """Bilinear, half-pixel resize of [h, w] or [h, w, c] into a preallocated [H, W(, c)]."""
    cv2.resize(src, (dst.shape[1], dst.shape[0]), dst=dst, interpolation=cv2.INTER_LINEAR)


def scale_heatmaps(heatmaps: np.ndarray, flip_index: Optional[Sequence[int]],
                   out: np.ndarray) -> None:
    """One scale's heatmaps, flip-averaged and projected, written into ``out``.

    Args:
        heatmaps: float32 [N, K, h, w] network output; N = 2 (image, mirror) when
            ``flip_index`` is given, else N = 1.
        flip_index: joint permutation of the mirror image, or None without flip.
        out: float32 [K, H, W], receives the projected heatmaps.
    """
    k_count, h, w = heatmaps.shape[1:]
    if flip_index is None:
        for k in range(k_count):
            _resize_into(heatmaps[0, k], out[k])
        return
    half = np.empty((h, w), np.float32)
    for k in range(k_count):
        cv2.flip(heatmaps[1, flip_index[k]], 1, dst=half)  # mirror back, reorder joints
        np.add(heatmaps[0, k], half, out=half)
        half *= np.float32(0.5)
        _resize_into(half, out[k])


def scale_tags(tags: np.ndarray, flip_index: Optional[Sequence[int]],
               size: Tuple[int, int], out: Optional[np.ndarray] = None) -> np.ndarray:
    """One scale's tag maps projected, image and flipped-back mirror side by side.

    Args:
        tags: float32 [N, K, h, w]; N = 2 (image, mirror) when ``flip_index`` is given, else 1.
        flip_index: joint permutation of the mirror image, or None without flip.
        size: (W, H) to project to.
        out: float32 [K, H, W, N] to write into (allocated when None).

    Returns:
        float32 [K, H, W, N]: [..., 1] is the mirror's tags flipped back and reordered.
    """
    n, k_count, h, w = tags.shape
    width, height = size
    if out is None:
        out = np.empty((k_count, height, width, n), np.float32)
    if flip_index is None:
        for k in range(k_count):
            _resize_into(tags[0, k], out[k, :, :, 0])
        return out
    # both tag maps of a joint as one 2-channel image: one resize writes the [H, W, 2] slab
    pair = np.empty((h, w, 2), np.float32)
    for k in range(k_count):
        pair[:, :, 0] = tags[0, k]
        pair[:, :, 1] = tags[1, flip_index[k], :, ::-1]
        _resize_into(pair, out[k])
    return out


def fuse(per_scale: List[Tuple[float, Dict[str, np.ndarray]]], *, flip_index: Sequence[int],
         flip: bool, projected_size: Tuple[int, int],
         workspace: Optional[Dict[str, np.ndarray]] = None) -> FusedMaps:
    """Fuse the network outputs of all test scales.

    Args:
        per_scale: (scale factor, backend outputs) in descending scale order (the official
            loop order, which fixes the summation order).  Outputs are ``heatmaps`` and
            ``tags`` float32 [N, K, h_s, w_s] (N = 2 with flip) and optionally ``scales``.
        flip_index: the layout's joint permutation under mirroring.
        flip: whether item 1 of each batch is the mirrored image.
        projected_size: (W, H) of the fused maps.
        workspace: a dict this function may keep its output arrays in and reuse on the next
            call (then the returned maps are only valid until that call); None: fresh arrays.

    Returns:
        :class:`FusedMaps`; tags from scale 1.0, or from the only scale.

    Raises:
        OutputError: non-finite outputs, or shapes that disagree with the joint count.
    """
    if not per_scale:
        raise ValueError("no scales to fuse")
    width, height = projected_size
    num_joints = len(flip_index)
    index = list(flip_index) if flip else None
    heatmaps = _buffer(workspace, "heatmaps", (num_joints, height, width))
    scratch = None
    tag_maps = scale_map = None
    tag_factor = per_scale[0][0] if len(per_scale) == 1 else 1.0
    for i, (factor, outputs) in enumerate(per_scale):
        check_shapes(outputs, num_joints, 2 if flip else 1)
        check_finite(outputs, f" at scale {factor:g}")
        if i == 0:
            scale_heatmaps(outputs["heatmaps"], index, heatmaps)
        else:
            if scratch is None:
                scratch = _buffer(workspace, "scratch", heatmaps.shape)
            scale_heatmaps(outputs["heatmaps"], index, scratch)
            heatmaps += scratch
        if factor == tag_factor:
            shape = (num_joints, height, width, 2 if flip else 1)
            tag_maps = scale_tags(outputs["tags"], index, projected_size,
                                  _buffer(workspace, "tags", shape))
            if "scales" in outputs:
                scale_map = outputs["scales"][0]
    if tag_maps is None:
        raise ValueError("the test scales must include 1.0: the tag maps are taken from it")
    if len(per_scale) > 1:
        heatmaps /= np.float32(len(per_scale))
    return FusedMaps(heatmaps, tag_maps, scale_map)
