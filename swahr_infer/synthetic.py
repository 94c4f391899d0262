"""Synthetic fused network outputs rendered from ground-truth poses.

For tests, benchmarks and users who want to check a decoder without a network: people are drawn
as Gaussian peaks on the K heatmaps (the shape HigherHRNet is trained to produce) and every pixel
of the tag maps carries the embedding of the nearest person, so decoding the maps should give the
people back.

Coordinate convention (the decoder's): heatmap pixel ``(row i, column j)`` covers
``[j, j + 1) x [i, i + 1)``, so a keypoint at continuous position ``(x, y)`` has its peak in
pixel ``(int(y), int(x))`` and the Gaussian is centred at index coordinates ``(x - 0.5, y - 0.5)``.
The decoder adds 0.5 plus a quarter-pixel shift towards the larger neighbour, so decoded joints
land within about 0.5 px of the ground truth on clean maps.

Ties: the official decoder's results depend on tie orders (equal peak values in top-k, equal
costs in the assignment).  ``render_maps`` gives each (person, joint) a different peak height and
keeps persons' tags at least 3 apart, so maps rendered with the defaults are tie-free and any
exact decoder must agree with the official one on them.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import numpy as np

from .skeleton import COCO, CROWDPOSE

__all__ = ["render_maps", "random_people", "default_tags"]

# Upright stick figure in a unit box (x right, y down), joints in each layout's channel order.
# "left" joints are on the image right, as for a person facing the camera.
_COCO_TEMPLATE = (
    (0.50, 0.08), (0.54, 0.06), (0.46, 0.06), (0.58, 0.08), (0.42, 0.08),
    (0.66, 0.22), (0.34, 0.22), (0.73, 0.38), (0.27, 0.38), (0.76, 0.52), (0.24, 0.52),
    (0.60, 0.55), (0.40, 0.55), (0.62, 0.75), (0.38, 0.75), (0.63, 0.95), (0.37, 0.95),
)
_CROWDPOSE_TEMPLATE = (
    (0.66, 0.22), (0.34, 0.22), (0.73, 0.38), (0.27, 0.38), (0.76, 0.52), (0.24, 0.52),
    (0.60, 0.55), (0.40, 0.55), (0.62, 0.75), (0.38, 0.75), (0.63, 0.95), (0.37, 0.95),
    (0.50, 0.05), (0.50, 0.17),
)
_TEMPLATES = {COCO.num_joints: _COCO_TEMPLATE, CROWDPOSE.num_joints: _CROWDPOSE_TEMPLATE}


def default_tags(num_people: int, num_tag_dims: int = 2) -> np.ndarray:
    """float32 [N, T]: person i gets ``3 * i + 0.1 * t`` in dimension t (persons >= 3 apart).

    The small per-dimension offset keeps the dimensions distinct, as the original and flipped
    tags of a real network are, without bringing any two persons closer than 3.
    """
    base = 3.0 * np.arange(num_people, dtype=np.float32)[:, None]
    return base + 0.1 * np.arange(num_tag_dims, dtype=np.float32)[None, :]


def random_people(
    n: int,
    shape: Tuple[int, int],
    num_joints: int = 17,
    *,
    seed: int = 0,
    visible_prob: float = 0.85,
    anchor: bool = True,
    margin: int = 4,
) -> np.ndarray:
    """Plausible, well-separated people: float32 [n, K, 3] (x, y, visible) in heatmap pixels.

    The map is cut into a grid of at least ``n`` cells; each person is an upright stick figure
    (the COCO or CrowdPose template, random points for other K) scaled to 60-95 % of its own
    cell with a little jitter, so people never overlap and have different sizes.  Each joint is
    visible with probability ``visible_prob``; invisible joints keep their template position
    (where the tag map still has the person's tag, so refine can find them).

    With ``anchor`` (default) joint 0 - the first in the official grouping order - is always
    visible, so every person is opened by the first joint and later joints never meet
    candidates without a matching person.  Such "orphan" candidates are forced onto other
    persons' columns by the assignment, where equal rounded costs make the result depend on the
    solver (SPEC.md "Ties"); anchored people keep comparisons with the official decoder
    tie-free.  Without ``anchor`` each person still keeps at least one visible joint.
    """
    h, w = shape
    rng = np.random.default_rng(seed)
    out = np.zeros((n, num_joints, 3), np.float32)
    if n == 0:
        return out
    rows = int(np.ceil(np.sqrt(n * h / w)))
    cols = int(np.ceil(n / rows))
    cell_h, cell_w = h / rows, w / cols
    cells = rng.permutation(rows * cols)[:n]
    template = np.asarray(_TEMPLATES.get(num_joints, ()), np.float32).reshape(-1, 2)
    for i, cell in enumerate(cells):
        r, c = divmod(int(cell), cols)
        size = rng.uniform(0.6, 0.95)
        box_h = max(cell_h * size - 2 * margin, 4.0)
        box_w = max(min(box_h * 0.6, cell_w - 2 * margin), 4.0)
        y0 = r * cell_h + margin + rng.uniform(0, max(cell_h - 2 * margin - box_h, 0))
        x0 = c * cell_w + margin + rng.uniform(0, max(cell_w - 2 * margin - box_w, 0))
        unit = template if len(template) else rng.uniform(0.05, 0.95, (num_joints, 2))
        unit = unit + rng.normal(0, 0.015, unit.shape)
        out[i, :, 0] = np.clip(x0 + unit[:, 0] * box_w, 0.5, w - 0.5)
        out[i, :, 1] = np.clip(y0 + unit[:, 1] * box_h, 0.5, h - 0.5)
        visible = rng.random(num_joints) < visible_prob
        if anchor:
            visible[0] = True
        elif not visible.any():
            visible[rng.integers(num_joints)] = True
        out[i, :, 2] = visible
    return out


def render_maps(
    keypoints: np.ndarray,
    shape: Tuple[int, int],
    *,
    sigma: Union[float, Sequence[float], np.ndarray] = 2.0,
    tag_values: Optional[np.ndarray] = None,
    num_tag_dims: int = 2,
    amplitudes: Optional[np.ndarray] = None,
    noise: float = 0.0,
    tag_noise: float = 0.0,
    seed: int = 0,
) -> Tuple[np.ndarray, np.ndarray]:
    """Fused heatmaps and tags as the network would give them for these people.

    Args:
        keypoints: [N, K, 3] (x, y, visible) in heatmap pixels (see the module docstring);
            only joints with visible > 0 get a peak.
        shape: (H, W) of the maps.
        sigma: Gaussian width in pixels, one for all or one per person ([N]).
        tag_values: [N, T] embedding per person; default :func:`default_tags` (>= 3 apart).
        num_tag_dims: T when ``tag_values`` is not given (2 = flip test, 1 = no flip).
        amplitudes: [N, K] peak heights; default random in [0.6, 1.0) (seeded), which keeps
            the peaks of different joints and persons from tying.
        noise: standard deviation of Gaussian noise added to every heatmap pixel.
        tag_noise: standard deviation of Gaussian noise added to every tag value.
        seed: seeds the amplitudes and the noise.

    Returns:
        heatmaps float32 [K, H, W] (max over persons, as HigherHRNet's targets) and
        tags float32 [K, H, W, T] (each pixel: the tag of the person whose nearest keypoint is
        nearest; all joints share the same partition).
    """
    kps = np.asarray(keypoints, np.float32)
    if kps.ndim != 3 or kps.shape[2] < 3:
        raise ValueError(f"keypoints must be [N, K, 3] (x, y, visible), got {kps.shape}")
    n, k = kps.shape[:2]
    h, w = int(shape[0]), int(shape[1])
    rng = np.random.default_rng(seed)
    tag_values = default_tags(n, num_tag_dims) if tag_values is None else tag_values
    tag_values = np.asarray(tag_values, np.float32).reshape(n, -1 if n else num_tag_dims)
    sigmas = np.broadcast_to(np.asarray(sigma, np.float32), (n,))
    if amplitudes is None:
        amplitudes = rng.uniform(0.6, 1.0, (n, k))
    amplitudes = np.asarray(amplitudes, np.float32).reshape(n, k)

    heatmaps = np.zeros((k, h, w), np.float32)
    for p in range(n):
        radius = int(np.ceil(3 * sigmas[p])) + 1
        for j in range(k):
            x, y, vis = kps[p, j]
            if vis > 0:
                _splat(heatmaps[j], x - 0.5, y - 0.5, sigmas[p], amplitudes[p, j], radius)
    if noise > 0:
        heatmaps += rng.normal(0.0, noise, heatmaps.shape).astype(np.float32)

    tags = np.zeros((k, h, w, tag_values.shape[1]), np.float32)
    if n:
        owner = _nearest_person(kps, h, w)
        tags[:] = tag_values[owner][None]
    if tag_noise > 0:
        tags += rng.normal(0.0, tag_noise, tags.shape).astype(np.float32)
    return heatmaps, tags


def _splat(plane: np.ndarray, cx: float, cy: float, sigma: float, amp: float, radius: int) -> None:
    """Max a Gaussian of height ``amp`` centred at index coordinates (cx, cy) into ``plane``."""
    h, w = plane.shape
    x0, x1 = max(int(cx) - radius, 0), min(int(cx) + radius + 1, w)
    y0, y1 = max(int(cy) - radius, 0), min(int(cy) + radius + 1, h)
    if x0 >= x1 or y0 >= y1:
        return
    xs = np.arange(x0, x1, dtype=np.float32) - np.float32(cx)
    ys = np.arange(y0, y1, dtype=np.float32) - np.float32(cy)
    g = amp * np.exp(-(ys[:, None] ** 2 + xs[None, :] ** 2) / np.float32(2 * sigma * sigma))
    np.maximum(plane[y0:y1, x0:x1], g.astype(np.float32), out=plane[y0:y1, x0:x1])


def _nearest_person(kps: np.ndarray, h: int, w: int) -> np.ndarray:
    """int [H, W]: the person owning each pixel = the person of the nearest keypoint.

    Every keypoint (visible or not) is a seed; each pixel takes the person of the nearest seed
    (a Voronoi partition over all joints, via one Euclidean distance transform), so a joint's
    own pixel always carries its own person's tag.
    """
    from scipy import ndimage

    seeds = np.full((h, w), -1, np.intp)
    xs = np.clip(kps[:, :, 0].astype(np.intp), 0, w - 1)
    ys = np.clip(kps[:, :, 1].astype(np.intp), 0, h - 1)
    person = np.broadcast_to(np.arange(len(kps))[:, None], xs.shape)
    seeds[ys.ravel(), xs.ravel()] = person.ravel()  # a later person wins a shared pixel
    _, (iy, ix) = ndimage.distance_transform_edt(seeds < 0, return_indices=True)
    return seeds[iy, ix]
