"""Skeleton drawing with OpenCV."""

from __future__ import annotations

import colorsys

import numpy as np

from .checks import is_int


def _palette(n: int):
    return [tuple(int(255 * c) for c in colorsys.hsv_to_rgb(i / max(n, 1), 0.85, 1.0))
            for i in range(n)]


def draw_poses(image: np.ndarray, poses, *, min_score: float = 0.0, radius: int = 0,
               thickness: int = 0) -> np.ndarray:
    """Draw each person's limbs and joints on a copy of ``image`` (HxWx3 uint8).

    Sizes default to a fraction of the image diagonal so drawings stay legible on any size.
    A joint is drawn when its score is > ``min_score`` and > 0.
    """
    import cv2

    from .errors import OptionError

    for name, value in (("radius", radius), ("thickness", thickness)):
        if not is_int(value) or value < 0:
            raise OptionError(f"{name} must be a whole number of pixels (0: from the image "
                              f"size), not {value!r}")
    out = np.ascontiguousarray(image).copy()
    diag = float(np.hypot(*out.shape[:2]))
    radius = int(radius) or max(2, int(diag / 300))
    thickness = int(thickness) or max(1, int(diag / 500))
    # joints far outside the picture (or not finite) are not drawn: OpenCV takes int32 points
    reach = 4 * (diag + 1)
    colors = _palette(max(len(poses), 1))
    for person, color in zip(poses.keypoints, colors):
        inside = np.isfinite(person[:, :2]).all(axis=1) & (np.abs(np.nan_to_num(
            person[:, :2])) < reach).all(axis=1)
        ok = (person[:, 2] > 0) & (person[:, 2] > min_score) & inside
        for a, b in poses.skeleton:
            if ok[a] and ok[b]:
                pa = tuple(int(round(v)) for v in person[a, :2])
                pb = tuple(int(round(v)) for v in person[b, :2])
                cv2.line(out, pa, pb, color, thickness, cv2.LINE_AA)
        for j in np.flatnonzero(ok):
            p = tuple(int(round(v)) for v in person[j, :2])
            cv2.circle(out, p, radius, color, -1, cv2.LINE_AA)
    return out
