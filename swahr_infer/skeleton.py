"""Keypoint layouts as data: joint names, flip pairs, skeleton edges and OKS sigmas per dataset.

The flip index maps each joint to its mirror image; it is used to reorder the channels of the
horizontally flipped network output (SPEC.md, "Configurations").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple


@dataclass(frozen=True)
class Layout:
    """One dataset's keypoint definition."""

    name: str
    joint_names: Tuple[str, ...]
    flip_index: Tuple[int, ...]
    skeleton: Tuple[Tuple[int, int], ...]  # 0-based joint index pairs to draw
    sigmas: Tuple[float, ...]  # OKS sigmas (COCO / CrowdPose evaluation)

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)


COCO = Layout(
    name="coco",
    joint_names=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    flip_index=(0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15),
    skeleton=(
        (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12),
        (5, 6), (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2),
        (1, 3), (2, 4), (3, 5), (4, 6),
    ),
    sigmas=(
        0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
        0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
    ),
)

CROWDPOSE = Layout(
    name="crowdpose",
    joint_names=(
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle", "head", "neck",
    ),
    flip_index=(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 12, 13),
    skeleton=(
        (12, 13), (13, 0), (13, 1), (0, 2), (2, 4), (1, 3), (3, 5),
        (0, 6), (1, 7), (6, 7), (6, 8), (8, 10), (7, 9), (9, 11),
    ),
    sigmas=(
        0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107,
        0.087, 0.087, 0.089, 0.089, 0.079, 0.079,
    ),
)

LAYOUTS: Dict[str, Layout] = {COCO.name: COCO, CROWDPOSE.name: CROWDPOSE}

# Grouping order of the official decoder (1-based in the official code):
# head, shoulders, hips, then arms and legs outward.  For K joints the first K entries are used.
JOINT_ORDER = (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16)


def joint_order(num_joints: int) -> Tuple[int, ...]:
    """Order in which joints are grouped; only the first ``num_joints`` entries apply."""
    return JOINT_ORDER[:num_joints]


def layout_for(num_joints: int) -> Layout:
    """The default layout for a joint count (17 -> COCO, 14 -> CrowdPose)."""
    for layout in LAYOUTS.values():
        if layout.num_joints == num_joints:
            return layout
    raise KeyError(f"no built-in keypoint layout has {num_joints} joints")
