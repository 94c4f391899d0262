"""Decoding: fused heatmaps and tags -> multi-person poses, exactly as the official pipeline.

One image goes through these steps (SPEC.md "Decoding"), each in its own module:

1. :mod:`.nms` - heatmap peaks above the detection threshold, top-k per joint, their tags;
2. :mod:`.group` - candidates grouped into persons by tag (official ``match_by_tag`` rules);
3. :mod:`.refine` - quarter-pixel adjustment, then the person scores, then refine (missing
   joints filled from the whole map);
4. :mod:`.transform` - heatmap pixels to image pixels.

Everything is numpy + scipy; the costly full-map work of the official decoder is replaced by
exact tile-pruned searches (:mod:`.tiles`), so the result is the same and the time is nearly
independent of the crowd size.

    >>> from swahr_infer.decode import decode
    >>> poses = decode(heatmaps, tags, affine)      # heatmaps [K,H,W], tags [K,H,W,T]
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional, Sequence, Tuple

import numpy as np

from ..errors import OutputError
from ..poses import Poses
from ..skeleton import LAYOUTS, joint_order, layout_for
from .group import group_candidates, person_scores
from .nms import Candidates, find_candidates
from .params import DecodeParams
from .refine import adjust_joints, refine_people
from .tiles import DEFAULT_TILE, MapTiles
from .transform import to_image

__all__ = [
    "DecodeParams", "Candidates", "decode", "group_poses", "check_maps", "grouping_order",
    "find_candidates", "group_candidates", "adjust_joints", "person_scores", "refine_people",
    "to_image", "MapTiles",
]


def decode(
    heatmaps: np.ndarray,
    tags: np.ndarray,
    affine: Optional[np.ndarray] = None,
    *,
    joint_names: Optional[Sequence[str]] = None,
    skeleton: Optional[Sequence[Tuple[int, int]]] = None,
    params: Optional[DecodeParams] = None,
    check_finite: bool = True,
    **overrides,
) -> Poses:
    """Poses from one image's fused network outputs.

    Args:
        heatmaps: float [K, H, W] fused heatmaps (mean over flips and scales).
        tags: float [K, H, W, T] tags (T = 2 with flip test), or [K, H, W] for T = 1.
        affine: float [2, 3] mapping heatmap pixels (x, y, 1) to image pixels; None = identity
            (keypoints stay in heatmap pixels).
        joint_names: K names (default: the built-in layout with K joints, else joint_<i>).
        skeleton: joint pairs to draw (default: the layout's skeleton when the names match one).
        params: decoding parameters (default :class:`DecodeParams()`, the official values).
        check_finite: reject NaN / inf anywhere in the maps (one pass over them; only skip it
            for maps already checked).
        **overrides: DecodeParams fields to change, e.g. ``detection_threshold=0.12``.

    Returns:
        :class:`~swahr_infer.poses.Poses` in opening order of the persons, keypoints (x, y,
        value) in image pixels (the official output, missing joints included with value 0).

    Raises:
        OutputError: shapes that do not fit together or non-finite values.
    """
    params = _params(params, overrides)
    hm, tg = check_maps(heatmaps, tags, None if joint_names is None else len(joint_names),
                        check_finite=check_finite)
    k = hm.shape[0]
    names, bones = _layout(k, joint_names, skeleton)
    persons, scores = _decode_maps(hm, tg, params)
    return Poses(to_image(persons, affine), scores, names, bones)


def group_poses(heatmaps: np.ndarray, tags: np.ndarray, params: Optional[DecodeParams] = None,
                *, check_finite: bool = True, **overrides) -> Tuple[np.ndarray, np.ndarray]:
    """Persons in heatmap pixels, before the affine (for runtimes and parity tests).

    Args:
        heatmaps, tags: as for :func:`decode`.
        params, check_finite, overrides: as for :func:`decode`.

    Returns:
        persons float32 [N, K, 3 + T] (x, y, value, tag...) per joint after adjust and refine
        (the official ``HeatmapParser.parse`` rows), and scores float32 [N] (taken before
        refine).
    """
    params = _params(params, overrides)
    hm, tg = check_maps(heatmaps, tags, check_finite=check_finite)
    return _decode_maps(hm, tg, params)


def _decode_maps(hm: np.ndarray, tg: np.ndarray, params: DecodeParams):
    """The pipeline on validated float32 maps: candidates, group, adjust, score, refine."""
    tiles = MapTiles(hm, tg, DEFAULT_TILE)
    cand = find_candidates(hm, tg, threshold=params.detection_threshold,
                           k=params.max_num_people, kernel=params.nms_kernel, tiles=tiles)
    persons = group_candidates(
        cand, grouping_order(hm.shape[0]),
        detection_threshold=params.detection_threshold, tag_threshold=params.tag_threshold,
        max_num_people=params.max_num_people, use_detection_val=params.use_detection_val,
        assignment=params.assignment,
    )
    if params.adjust:
        persons = adjust_joints(persons, hm)
    scores = person_scores(persons)
    if params.refine:
        persons = refine_people(persons, hm, tg, tiles=tiles)
    return persons, scores


def grouping_order(num_joints: int) -> Tuple[int, ...]:
    """The official joint order for K joints; for K where it is not a permutation of 0..K-1
    (the official code would fail or skip joints) its valid entries, then the rest ascending."""
    order = joint_order(num_joints)
    if sorted(order) == list(range(num_joints)):
        return order
    head = [j for j in order if j < num_joints]
    return tuple(head + [j for j in range(num_joints) if j not in head])


def check_maps(heatmaps, tags, num_joints: Optional[int] = None, *,
               check_finite: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """Validated float32, C-contiguous heatmaps [K, H, W] and tags [K, H, W, T].

    Raises:
        OutputError: wrong ranks, shapes that disagree, K different from ``num_joints``,
            empty maps, or (with ``check_finite``) NaN / inf values.
    """
    hm = np.ascontiguousarray(heatmaps, dtype=np.float32)
    tg = np.ascontiguousarray(tags, dtype=np.float32)
    if hm.ndim != 3:
        raise OutputError(f"heatmaps must be [K, H, W], got shape {hm.shape}")
    if tg.ndim == 3:
        tg = tg[..., None]
    if tg.ndim != 4 or tg.shape[:3] != hm.shape or tg.shape[3] < 1:
        raise OutputError(
            f"tags must be [K, H, W, T] or [K, H, W] matching heatmaps {hm.shape}, got {np.shape(tags)}"
        )
    if min(hm.shape) == 0:
        raise OutputError(f"empty heatmaps: shape {hm.shape}")
    if num_joints is not None and hm.shape[0] != num_joints:
        raise OutputError(
            f"heatmaps have {hm.shape[0]} joints but {num_joints} joint names were given"
        )
    if check_finite:
        for name, arr in (("heatmaps", hm), ("tags", tg)):
            # min / max propagate NaN and expose infinities in two reads and no temporary: about
            # 4x cheaper than isfinite, which only runs to describe a failure
            if np.isfinite(arr.min()) and np.isfinite(arr.max()):
                continue
            bad = ~np.isfinite(arr)
            if bad.any():
                first = tuple(int(i) for i in np.argwhere(bad)[0])
                raise OutputError(
                    f"{name} contain {int(bad.sum())} non-finite values (NaN/inf), the first at "
                    f"index {first}: the network output is broken (check the model file, and "
                    "fp16 overflow for half-precision engines)"
                )
    return hm, tg


def _params(params: Optional[DecodeParams], overrides) -> DecodeParams:
    params = params if params is not None else DecodeParams()
    if not isinstance(params, DecodeParams):
        raise TypeError(f"params must be a DecodeParams, got {type(params).__name__}")
    return replace(params, **overrides) if overrides else params


def _layout(k: int, joint_names, skeleton):
    """Joint names and skeleton: given, or from the built-in layout that fits."""
    if joint_names is not None:
        names = tuple(joint_names)
        match = next((lay for lay in LAYOUTS.values() if lay.joint_names == names), None)
    else:
        try:
            match = layout_for(k)
            names = match.joint_names
        except KeyError:
            match, names = None, tuple(f"joint_{i}" for i in range(k))
    if skeleton is None:
        skeleton = match.skeleton if match is not None else ()
    return names, tuple(tuple(int(i) for i in pair) for pair in skeleton)
