"""Optional clean-ups of decoded poses.  All are OFF by default, so that the default output is
exactly the official pipeline's (which submits every person it finds, with no OKS-NMS).

* :func:`suppress_duplicates`: greedy OKS non-maximum suppression.  Bottom-up grouping
  sometimes splits one person into two skeletons sharing joints; keeping the higher-scoring
  one of any pair whose OKS exceeds a threshold removes such duplicates.
* :func:`filter_score`: drop persons below a score.
* :func:`keep_top`: keep the best ``n`` persons.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .poses import Poses


def oks_matrix(keypoints: np.ndarray, sigmas: Sequence[float]) -> np.ndarray:
    """Object keypoint similarity between every pair of persons.

    The area of a person is the area of the box around its found joints (score > 0), as
    HRNet's OKS-NMS uses when no ground-truth area exists; OKS(i, j) uses person i's area and
    the joints found in both.

    Args:
        keypoints: [N, K, 3] (x, y, score).
        sigmas: [K] per-joint OKS sigmas of the layout.

    Returns:
        float64 [N, N], 0 where two persons share no found joint.
    """
    kp = np.asarray(keypoints, np.float64)
    found = kp[..., 2] > 0
    xy = kp[..., :2]
    lo = np.where(found[..., None], xy, np.inf).min(1)
    hi = np.where(found[..., None], xy, -np.inf).max(1)
    area = np.where(found.any(1), np.prod(np.maximum(hi - lo, 0), axis=1), 0.0)
    var = (2 * np.asarray(sigmas, np.float64)) ** 2  # [K]
    d2 = ((xy[:, None] - xy[None]) ** 2).sum(-1)  # [N, N, K]
    e = d2 / var / ((area[:, None, None] + np.spacing(1)) * 2)
    both = found[:, None] & found[None]
    sim = np.where(both, np.exp(-e), 0.0).sum(-1)
    count = both.sum(-1)
    return np.where(count > 0, sim / np.maximum(count, 1), 0.0)


def suppress_duplicates(poses: Poses, threshold: float, sigmas: Sequence[float]) -> Poses:
    """Greedy OKS-NMS: visit persons by descending score, drop any whose OKS with a kept one
    is above ``threshold`` (e.g. 0.9).  Order of the survivors: descending score."""
    if len(poses) < 2:
        return poses
    order = np.argsort(-poses.scores, kind="stable")
    oks = oks_matrix(poses.keypoints, sigmas)
    keep = []
    suppressed = np.zeros(len(poses), bool)
    for i in order:
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= oks[i] > threshold
    return poses.select(np.asarray(keep, dtype=np.int64))


def filter_score(poses: Poses, min_score: float) -> Poses:
    """Persons whose score is at least ``min_score``, order kept."""
    return poses.select(poses.scores >= min_score)


def keep_top(poses: Poses, count: int) -> Poses:
    """The ``count`` highest-scoring persons, in descending score order."""
    if len(poses) <= count:
        return poses
    order = np.argsort(-poses.scores, kind="stable")[:count]
    return poses.select(order)


def clean(poses: Poses, *, sigmas: Sequence[float], dedup_oks: Optional[float] = None,
          min_score: Optional[float] = None, max_people: Optional[int] = None) -> Poses:
    """Apply the enabled clean-ups in the order score filter, OKS-NMS, top-n."""
    if min_score is not None:
        poses = filter_score(poses, min_score)
    if dedup_oks is not None:
        poses = suppress_duplicates(poses, dedup_oks, sigmas)
    if max_people is not None:
        poses = keep_top(poses, max_people)
    return poses
