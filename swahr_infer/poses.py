"""Typed results: the poses found in one image."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .checks import is_int
from .skeleton import COCO


@dataclass(eq=False)  # the generated __eq__ would compare arrays element-wise; see __eq__
class Poses:
    """Multi-person poses in original-image pixels.

    Attributes:
        keypoints: float32 [N, K, 3], (x, y, score) per joint.  As in the official pipeline a
            joint that was never found has score 0 (its x, y are the image of the heatmap
            origin, meaningless); filter with ``keypoints[..., 2] > 0``.
        scores: float32 [N], person score = mean of the K joint scores taken before refine
            (the official score).
        joint_names: K names, in channel order.
        skeleton: joint index pairs to draw.
        keypoint_scales: float32 [N, K] or None.  Only for models exported with their SAHR
            scale maps: the predicted Gaussian width multiplier ``1 / sqrt(1 + s)`` at each
            keypoint (< 1: a sharper, more certain / smaller-scale peak than the training sigma;
            > 1: a wider, less certain / larger-scale one).  NaN for joints never found.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    joint_names: Tuple[str, ...] = COCO.joint_names
    skeleton: Tuple[Tuple[int, int], ...] = COCO.skeleton
    keypoint_scales: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        k = len(self.joint_names)
        keypoints = np.asarray(self.keypoints, dtype=np.float32)
        if keypoints.size % (3 * k) or (keypoints.ndim == 3 and keypoints.shape[1:] != (k, 3)):
            raise ValueError(f"keypoints of shape {keypoints.shape} are not [N, {k}, 3] "
                             f"(x, y, score for each of the {k} joints)")
        self.keypoints = keypoints.reshape(-1, k, 3)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        if len(self.scores) != len(self.keypoints):
            raise ValueError(
                f"{len(self.keypoints)} persons but {len(self.scores)} scores"
            )
        bad = [pair for pair in self.skeleton if len(pair) != 2 or not all(
            0 <= int(j) < k for j in pair)]
        if bad:
            raise ValueError(f"skeleton pairs {bad[:3]} name joints outside 0..{k - 1}")
        if self.keypoint_scales is not None:
            self.keypoint_scales = np.asarray(self.keypoint_scales, np.float32).reshape(-1, k)

    def __len__(self) -> int:
        return len(self.keypoints)

    def __eq__(self, other: object) -> bool:
        """Same persons (keypoints, scores and scales equal, NaN equal to NaN), joints and skeleton."""
        if not isinstance(other, Poses):
            return NotImplemented
        if (self.keypoint_scales is None) != (other.keypoint_scales is None):
            return False
        arrays = [(self.keypoints, other.keypoints), (self.scores, other.scores)]
        if self.keypoint_scales is not None:
            arrays.append((self.keypoint_scales, other.keypoint_scales))
        return (tuple(self.joint_names) == tuple(other.joint_names)
                and [tuple(p) for p in self.skeleton] == [tuple(p) for p in other.skeleton]
                and all(a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
                        for a, b in arrays))

    __hash__ = None  # mutable arrays inside

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def boxes(self) -> np.ndarray:
        """float32 [N, 4] (x0, y0, x1, y1) around each person's found keypoints (score > 0)."""
        out = np.zeros((len(self), 4), np.float32)
        for i, kp in enumerate(self.keypoints):
            found = kp[kp[:, 2] > 0, :2]
            if len(found):
                out[i, :2] = found.min(0)
                out[i, 2:] = found.max(0)
        return out

    def select(self, index) -> "Poses":
        """A subset of persons (boolean mask or integer indices), same joints."""
        scales = None if self.keypoint_scales is None else self.keypoint_scales[index]
        return Poses(self.keypoints[index], self.scores[index], self.joint_names,
                     self.skeleton, scales)

    def to_coco(self, image_id: int, category_id: int = 1) -> List[Dict]:
        """COCO results entries (``keypoints`` flattened x, y, score; ``score`` per person).

        ``image_id`` and ``category_id`` must be integers, as COCO's are (a float or a string
        would silently become another id, or fail inside ``int``)."""
        for name, value in (("image_id", image_id), ("category_id", category_id)):
            if not is_int(value):
                raise TypeError(f"{name} must be an integer (COCO ids are), not {value!r}")
        return [
            {
                "image_id": int(image_id),
                "category_id": int(category_id),
                "keypoints": [float(v) for v in kp.reshape(-1)],
                "score": float(s),
            }
            for kp, s in zip(self.keypoints, self.scores)
        ]

    def plot(self, image, *, min_score: float = 0.0, radius: int = 0,
             thickness: int = 0) -> np.ndarray:
        """A copy of ``image`` with the skeletons drawn, HxWx3 uint8.

        ``image``: anything :meth:`Estimator.predict <swahr_infer.Estimator.predict>` takes: an
        array (its channel order is kept; gray or 4-channel arrays become 3 channels), a file
        path (read as BGR, ready for ``cv2.imwrite``) or a PIL image (RGB).
        """
        from .draw import draw_poses
        from .image_io import to_pixels

        pixels, _ = to_pixels(image)
        return draw_poses(pixels, self, min_score=min_score, radius=radius, thickness=thickness)

    @staticmethod
    def concatenate(items: Sequence["Poses"]) -> "Poses":
        """The persons of all ``items`` in order (same joints); at least one item is needed,
        since an empty list says nothing of the joints (``Poses.empty(...)`` makes none)."""
        if not items:
            raise ValueError("Poses.concatenate needs at least one Poses (for none, use "
                             "Poses.empty(joint_names, skeleton))")
        first = items[0]
        scales = None
        if all(p.keypoint_scales is not None for p in items):
            scales = np.concatenate([p.keypoint_scales for p in items])
        return Poses(np.concatenate([p.keypoints for p in items]),
                     np.concatenate([p.scores for p in items]),
                     first.joint_names, first.skeleton, scales)

    @classmethod
    def empty(cls, joint_names=COCO.joint_names, skeleton=COCO.skeleton) -> "Poses":
        k = len(joint_names)
        return cls(np.zeros((0, k, 3), np.float32), np.zeros(0, np.float32), joint_names, skeleton)
