"""Synthetic multi-person images with COCO keypoints, for training and testing small SWAHR models.

Each image shows 1..n articulated figures drawn with OpenCV over a cluttered background:
a torso polygon, limbs as thick segments (sleeves, skin, trousers or shorts, shoes), a head with
hair, eyes, nose, mouth and ears.  The 17 COCO keypoints are the joints of that drawing, so the
labels are exact.  What makes the data useful for a bottom-up model:

* **Scale.**  Stature is log-uniform from ``min_height`` (30 px by default) to most of the frame,
  so one image mixes tiny and large people, which is what SWAHR's scale-adaptive heatmaps target.
* **Crowds.**  People overlap; they are drawn far-to-near (small first, with some shuffling) and a
  joint hidden under a nearer person gets visibility 1 (labelled, not visible) as in COCO.  Joints
  outside the image are unlabelled, ``[0, 0, 0]``.
* **Left / right.**  All figures face the camera (yawed by up to about 60 degrees), so a
  person's left side is on the image right and the face (eyes, nose, mouth) marks the front.
  Sides are deliberately *not* colour-coded: a colour code is not mirror-symmetric, so it would
  contradict horizontal-flip augmentation and the official flip test, where the flipped image must
  read as a person with swapped sides.  The pose distribution is mirror-symmetric.
* **Clutter.**  Gradient backgrounds, random shapes, limb-like bars and skin-coloured discs as
  distractors, sensor noise.

Coordinates use OpenCV's convention (pixel ``i`` is centred on ``i``); everything is drawn with
sub-pixel precision at the keypoint coordinates, so a horizontal flip maps ``x`` to ``w - 1 - x``.

Everything is deterministic given the seed: image ``i`` of a data set is drawn from
``numpy.random.default_rng([seed, i])`` and does not depend on how many images are made.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from swahr_infer.skeleton import COCO

logger = logging.getLogger(__name__)

K = COCO.num_joints
_SHIFT = 4  # OpenCV drawing: coordinates carry 4 fractional bits
_ONE = 1 << _SHIFT

# joint indices (COCO order)
NOSE, L_EYE, R_EYE, L_EAR, R_EAR = 0, 1, 2, 3, 4
L_SHO, R_SHO, L_ELB, R_ELB, L_WRI, R_WRI = 5, 6, 7, 8, 9, 10
L_HIP, R_HIP, L_KNE, R_KNE, L_ANK, R_ANK = 11, 12, 13, 14, 15, 16

# Body proportions as fractions of stature (standing height, sole to top of head).
_THIGH, _SHIN, _FOOT_DROP = 0.245, 0.225, 0.04
_TORSO = 0.29  # mid-hip to mid-shoulder
_NECK_TO_HEAD = 0.12  # mid-shoulder to head centre
_HEAD_R = 0.064
_SHOULDER_HALF, _HIP_HALF = 0.105, 0.075
_UPPER_ARM, _FOREARM = 0.17, 0.15

Size = Union[Tuple[int, int], Tuple[Tuple[int, int], Tuple[int, int]]]


@dataclass(frozen=True)
class SceneConfig:
    """How scenes are drawn.  Defaults suit 256 x 256 training images.

    people: (min, max) number of figures per image, inclusive.
    min_height: smallest stature in pixels; max_height_frac: largest stature as a fraction of the
    shorter image side.  Stature is log-uniform between the two.
    max_yaw: largest sideways turn of a figure, as the fraction (0..1) of a full profile.
    lean_deg: standard deviation of the whole-body lean; big_lean_prob of them lean up to 45 deg.
    clutter: (min, max) number of background shapes.  noise: (min, max) std of pixel noise.
    """

    people: Tuple[int, int] = (1, 6)
    min_height: float = 30.0
    max_height_frac: float = 0.95
    max_yaw: float = 0.7
    lean_deg: float = 8.0
    big_lean_prob: float = 0.1
    clutter: Tuple[int, int] = (4, 14)
    noise: Tuple[float, float] = (1.0, 6.0)


@dataclass
class Scene:
    """One rendered image and its labels.

    image: np.ndarray[H, W, 3] uint8, RGB.
    keypoints: np.ndarray[N, 17, 3] float32, (x, y, v) with v = 2 visible, 1 occluded, 0 unlabelled
    (then x = y = 0).
    boxes: np.ndarray[N, 4] float32, (x, y, w, h) of each figure's whole silhouette, clipped to the image.
    areas: np.ndarray[N] float32, pixel area of each figure's whole silhouette inside the image (the
    OKS scale; occlusion by others is not subtracted, so a hidden person is not judged more strictly).
    polygons: per figure, a list of flat [x0, y0, x1, y1, ...] outlines of the silhouette (COCO
    "segmentation").
    """

    image: np.ndarray
    keypoints: np.ndarray
    boxes: np.ndarray
    areas: np.ndarray
    polygons: List[List[List[float]]] = field(default_factory=list)


# ----------------------------------------------------------------------------------- geometry
def _dir(angle: float) -> np.ndarray:
    """Unit vector for an image-plane angle: 0 points down (+y), positive turns towards +x."""
    return np.array([math.sin(angle), math.cos(angle)])


def _pose(rng: np.random.Generator, stature: float, root: np.ndarray, yaw: float,
          lean: float) -> Tuple[np.ndarray, Dict[str, float]]:
    """Joint positions of one figure.

    root: mid-hip (x, y).  yaw in [-1, 1]: positive turns the face towards the image right.
    Returns (joints np.ndarray[17, 2], extras) where extras holds the head centre and radius,
    the body width factor and the facing offset used for drawing.
    """
    h = stature
    width = 1.0 - 0.55 * abs(yaw)  # a turned body looks narrower
    up = -_dir(lean)  # from hips to shoulders
    side = np.array([-up[1], up[0]])  # person's left = image right when facing the camera
    j = np.zeros((K, 2))
    j[L_HIP] = root + side * _HIP_HALF * h * width
    j[R_HIP] = root - side * _HIP_HALF * h * width
    neck = root + up * _TORSO * h
    j[L_SHO] = neck + side * _SHOULDER_HALF * h * width
    j[R_SHO] = neck - side * _SHOULDER_HALF * h * width

    def limb(start: int, a1: float, a2: float, l1: float, l2: float, mid: int, end: int, sign: float):
        # sign = +1 for the person's left (image right): angles mirror for the right side
        f1, f2 = rng.uniform(0.7, 1.0, size=2)  # foreshortening
        j[mid] = j[start] + _dir(lean + sign * a1) * l1 * h * f1
        j[end] = j[mid] + _dir(lean + sign * (a1 + a2)) * l2 * h * f2

    for sign, (sho, elb, wri) in ((1.0, (L_SHO, L_ELB, L_WRI)), (-1.0, (R_SHO, R_ELB, R_WRI))):
        abduct = math.radians(rng.choice([rng.uniform(5, 40), rng.uniform(5, 175)], p=[0.6, 0.4]))
        bend = math.radians(rng.choice([rng.uniform(-25, 25), rng.uniform(-150, 150)], p=[0.5, 0.5]))
        limb(sho, abduct, bend, _UPPER_ARM, _FOREARM, elb, wri, sign)
    for sign, (hip, kne, ank) in ((1.0, (L_HIP, L_KNE, L_ANK)), (-1.0, (R_HIP, R_KNE, R_ANK))):
        spread = math.radians(rng.choice([rng.uniform(-8, 20), rng.uniform(-25, 70)], p=[0.7, 0.3]))
        bend = math.radians(rng.choice([rng.uniform(-12, 12), rng.uniform(-80, 80)], p=[0.7, 0.3]))
        limb(hip, spread, bend, _THIGH, _SHIN, kne, ank, sign)

    tilt = lean + math.radians(rng.normal(0, 8))
    head_up = -_dir(tilt)
    head_side = np.array([-head_up[1], head_up[0]])
    head = neck + head_up * _NECK_TO_HEAD * h
    r = _HEAD_R * h
    # the head turns about its vertical axis by theta: a feature at azimuth phi (0 = nose)
    # projects to r * sin(theta + phi) sideways
    theta = yaw * 1.2
    j[NOSE] = head + head_side * 0.95 * r * math.sin(theta) - head_up * 0.12 * r
    j[L_EYE] = head + head_side * 0.9 * r * math.sin(theta + 0.6) + head_up * 0.18 * r
    j[R_EYE] = head + head_side * 0.9 * r * math.sin(theta - 0.6) + head_up * 0.18 * r
    j[L_EAR] = head + head_side * r * math.cos(theta) + head_up * 0.05 * r
    j[R_EAR] = head - head_side * r * math.cos(theta) + head_up * 0.05 * r
    return j, {"head_x": head[0], "head_y": head[1], "head_r": r, "width": width,
               "up_x": head_up[0], "up_y": head_up[1]}


# ----------------------------------------------------------------------------------- drawing
def _pt(p: Sequence[float]) -> Tuple[int, int]:
    return int(round(p[0] * _ONE)), int(round(p[1] * _ONE))


def _colour(rng: np.random.Generator, lo: int = 20, hi: int = 235) -> Tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(lo, hi, size=3))


def _skin(rng: np.random.Generator) -> Tuple[int, int, int]:
    base = np.array([[224, 172, 138], [198, 134, 96], [141, 85, 54], [92, 58, 38], [240, 200, 170]])
    c = base[rng.integers(len(base))] + rng.normal(0, 10, size=3)
    return tuple(int(v) for v in np.clip(c, 0, 255))


def _darker(c: Tuple[int, int, int], f: float = 0.55) -> Tuple[int, int, int]:
    return tuple(int(v * f) for v in c)


class _Canvas:
    """The image and an id buffer: which figure (1-based, 0 = background) owns each pixel."""

    def __init__(self, image: np.ndarray):
        self.image = image
        self.owner = np.zeros(image.shape[:2], np.uint8)
        self.silhouette = np.zeros(image.shape[:2], np.uint8)  # the figure being drawn

    def _targets(self, colour, pid: int):
        # anti-aliased on the image; hard edges on the label buffers
        return ((self.image, colour, cv2.LINE_AA), (self.owner, pid, cv2.LINE_8),
                (self.silhouette, 255, cv2.LINE_8))

    def line(self, a, b, colour, thickness: float, pid: int):
        t, pa, pb = max(1, int(round(thickness))), _pt(a), _pt(b)
        for img, c, kind in self._targets(colour, pid):
            cv2.line(img, pa, pb, c, t, kind, _SHIFT)

    def disc(self, centre, radius: float, colour, pid: int):
        r, pc = max(1, int(round(radius * _ONE))), _pt(centre)
        for img, c, kind in self._targets(colour, pid):
            cv2.circle(img, pc, r, c, -1, kind, _SHIFT)

    def polygon(self, points, colour, pid: int):
        pts = np.array([_pt(p) for p in points], np.int32)
        for img, c, kind in self._targets(colour, pid):
            cv2.fillConvexPoly(img, pts, c, kind, _SHIFT)

    def mark(self, centre, radius: float, colour):
        """A face feature: drawn on the image only (it lies inside the head)."""
        r = max(1, int(round(radius * _ONE)))
        cv2.circle(self.image, _pt(centre), r, colour, -1, cv2.LINE_AA, _SHIFT)


def _draw_figure(canvas: _Canvas, rng: np.random.Generator, j: np.ndarray, extra: Dict[str, float],
                 stature: float, yaw: float, pid: int) -> None:
    h = stature
    skin = _skin(rng)
    shirt, trousers, shoes, hair = _colour(rng), _colour(rng), _colour(rng, 0, 120), _colour(rng, 0, 140)
    long_sleeves, shorts = rng.random() < 0.5, rng.random() < 0.3
    lower_arm = shirt if long_sleeves else skin
    lower_leg = skin if shorts else trousers
    arm_w, leg_w = 0.045 * h * extra["width"] ** 0.3, 0.065 * h * extra["width"] ** 0.3
    # far side first: a figure turned towards the image right (yaw > 0) turns its left side away
    near_left = yaw < 0 if abs(yaw) > 0.05 else rng.random() < 0.5
    sides = [(-1, (R_HIP, R_KNE, R_ANK), (R_SHO, R_ELB, R_WRI)),
             (1, (L_HIP, L_KNE, L_ANK), (L_SHO, L_ELB, L_WRI))]
    if not near_left:
        sides.reverse()
    for _, (hip, kne, ank), _ in sides:
        canvas.line(j[hip], j[kne], trousers, leg_w, pid)
        canvas.line(j[kne], j[ank], lower_leg, leg_w * 0.85, pid)
        foot = j[ank] + (j[ank] - j[kne]) / (np.linalg.norm(j[ank] - j[kne]) + 1e-6) * 0.02 * h
        canvas.line(j[ank], foot, shoes, leg_w * 0.9, pid)
    w = extra["width"]
    up = np.array([extra["up_x"], extra["up_y"]])
    torso = [j[L_SHO] + (j[L_SHO] - j[R_SHO]) * 0.08, j[R_SHO] + (j[R_SHO] - j[L_SHO]) * 0.08,
             j[R_HIP] + (j[R_HIP] - j[L_HIP]) * 0.15, j[L_HIP] + (j[L_HIP] - j[R_HIP]) * 0.15]
    canvas.polygon(torso, shirt, pid)
    neck_top = np.array([extra["head_x"], extra["head_y"]])
    canvas.line((j[L_SHO] + j[R_SHO]) / 2, neck_top, skin, 0.05 * h * w ** 0.5, pid)
    for _, _, (sho, elb, wri) in sides:
        canvas.line(j[sho], j[elb], shirt, arm_w, pid)
        canvas.line(j[elb], j[wri], lower_arm, arm_w * 0.85, pid)
        canvas.disc(j[wri] + (j[wri] - j[elb]) / (np.linalg.norm(j[wri] - j[elb]) + 1e-6) * 0.02 * h,
                    arm_w * 0.6, skin, pid)
    # head: ears (far one first, hidden behind the head), hair, face, then features
    r = extra["head_r"]
    head = np.array([extra["head_x"], extra["head_y"]])
    far_ear, near_ear = (L_EAR, R_EAR) if yaw > 0 else (R_EAR, L_EAR)
    canvas.disc(j[far_ear], 0.28 * r, _darker(skin, 0.85), pid)
    canvas.disc(head + up * 0.12 * r, 1.02 * r, hair, pid)
    canvas.disc(head, 0.92 * r, skin, pid)
    canvas.disc(j[near_ear], 0.28 * r, _darker(skin, 0.85), pid)
    eye_r = max(0.6, 0.12 * r)
    for eye in (L_EYE, R_EYE):
        canvas.mark(j[eye], eye_r * 1.6, (245, 245, 245))
        canvas.mark(j[eye], eye_r, (20, 20, 30))
    canvas.mark(j[NOSE], max(0.6, 0.13 * r), _darker(skin, 0.6))
    mouth = j[NOSE] - up * 0.35 * r
    cv2.ellipse(canvas.image, _pt(mouth), (max(1, int(0.28 * r * _ONE)), max(1, int(0.07 * r * _ONE))),
                math.degrees(math.atan2(up[0], -up[1])), 0, 360, (150, 40, 50), -1,
                cv2.LINE_AA, _SHIFT)


def _background(rng: np.random.Generator, width: int, height: int, cfg: SceneConfig) -> np.ndarray:
    """A gradient with random shapes and distractors (limb-like bars, skin-coloured discs)."""
    c0, c1 = np.array(_colour(rng, 0, 256), np.float32), np.array(_colour(rng, 0, 256), np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    t = (np.arange(width, dtype=np.float32)[None, :] * math.cos(angle)
         + np.arange(height, dtype=np.float32)[:, None] * math.sin(angle))
    t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
    img = (c0 + (c1 - c0) * t[..., None]).astype(np.uint8)
    scale = min(width, height)
    for _ in range(int(rng.integers(cfg.clutter[0], cfg.clutter[1] + 1))):
        kind = rng.integers(6)
        c = _skin(rng) if kind == 5 else _colour(rng, 0, 256)
        p = (rng.uniform(-0.1, 1.1) * width, rng.uniform(-0.1, 1.1) * height)
        s = scale * math.exp(rng.uniform(math.log(0.02), math.log(0.5)))
        if kind == 0:
            q = (p[0] + rng.uniform(-s, s), p[1] + rng.uniform(-s, s))
            cv2.rectangle(img, _pt(p), _pt(q), c, -1, cv2.LINE_AA, _SHIFT)
        elif kind == 1:
            cv2.circle(img, _pt(p), max(1, int(s * 0.5 * _ONE)), c, -1, cv2.LINE_AA, _SHIFT)
        elif kind == 2:  # a limb-like bar
            q = (p[0] + rng.uniform(-s, s), p[1] + rng.uniform(-s, s))
            cv2.line(img, _pt(p), _pt(q), c, max(1, int(s * rng.uniform(0.05, 0.25))), cv2.LINE_AA,
                     _SHIFT)
        elif kind == 3:
            pts = np.array([_pt((p[0] + rng.uniform(-s, s), p[1] + rng.uniform(-s, s)))
                            for _ in range(int(rng.integers(3, 7)))], np.int32)
            cv2.polylines(img, [pts], bool(rng.random() < 0.5), c, max(1, int(rng.integers(1, 4))),
                          cv2.LINE_AA, _SHIFT)
        elif kind == 4:
            cv2.ellipse(img, _pt(p), (max(1, int(s * 0.5 * _ONE)), max(1, int(s * 0.2 * _ONE))),
                        float(rng.uniform(0, 180)), 0, 360, c, -1, cv2.LINE_AA, _SHIFT)
        else:  # a skin-coloured disc, the size of a head, so heads are not just "skin blobs"
            cv2.circle(img, _pt(p), max(1, int(s * 0.15 * _ONE)), c, -1, cv2.LINE_AA, _SHIFT)
    return img


# ----------------------------------------------------------------------------------- scenes
def _resolve_size(rng: np.random.Generator, size: Size) -> Tuple[int, int]:
    """(width, height) from a fixed (w, h) or a range ((w_min, w_max), (h_min, h_max))."""
    w, h = size
    if isinstance(w, (tuple, list)):
        w = int(rng.integers(w[0], w[1] + 1))
    if isinstance(h, (tuple, list)):
        h = int(rng.integers(h[0], h[1] + 1))
    return int(w), int(h)


def render_scene(rng: np.random.Generator, size: Size = (256, 256),
                 config: SceneConfig = SceneConfig(), with_polygons: bool = False) -> Scene:
    """Draw one image with its people and labels (see :class:`Scene`).

    size: (width, height) or ((w_min, w_max), (h_min, h_max)).
    People with no labelled joint left (all outside the image) are dropped.
    """
    width, height = _resolve_size(rng, size)
    n = int(rng.integers(config.people[0], config.people[1] + 1))
    image = _background(rng, width, height, config)
    canvas = _Canvas(image)
    short = min(width, height)
    lo, hi = math.log(config.min_height), math.log(max(config.min_height, config.max_height_frac * short))
    statures = np.exp(rng.uniform(lo, hi, size=n))
    # far to near: small people first, with a little shuffling so big ones are sometimes behind
    order = np.argsort(statures * np.exp(rng.normal(0, 0.3, size=n)))
    joints, silhouettes, yaws = [], [], []
    for rank, p in enumerate(order):
        h = float(statures[p])
        yaw = float(rng.uniform(-config.max_yaw, config.max_yaw))
        lean = math.radians(rng.normal(0, config.lean_deg))
        if rng.random() < config.big_lean_prob:
            lean = math.radians(rng.uniform(-45, 45))
        # place mid-hip so the figure is mostly inside the frame (large ones may be cut off)
        margin_top, margin_bottom = 0.53 * h, 0.47 * h
        x = rng.uniform(-0.05 * width, 1.05 * width)
        y_lo, y_hi = margin_top - 0.15 * h, height - margin_bottom + 0.15 * h
        y = rng.uniform(min(y_lo, y_hi), max(y_lo, y_hi))
        j, extra = _pose(rng, h, np.array([x, y]), yaw, lean)
        canvas.silhouette[:] = 0
        _draw_figure(canvas, rng, j, extra, h, yaw, rank + 1)
        joints.append(j)
        silhouettes.append(canvas.silhouette.copy())
        yaws.append(yaw)
    _finish(rng, canvas.image, config)
    keypoints, boxes, areas, polygons = [], [], [], []
    for rank, (j, sil, yaw) in enumerate(zip(joints, silhouettes, yaws)):
        kp = _label(j, canvas.owner, rank + 1, yaw, width, height)
        if not np.any(kp[:, 2] > 0):
            continue
        area = cv2.countNonZero(sil)
        if area == 0:
            continue
        keypoints.append(kp)
        boxes.append(cv2.boundingRect(sil))
        areas.append(float(area))
        if with_polygons:
            contours, _ = cv2.findContours(sil, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            polygons.append([c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3])
    return Scene(
        image=canvas.image,
        keypoints=np.array(keypoints, np.float32).reshape(-1, K, 3),
        boxes=np.array(boxes, np.float32).reshape(-1, 4),
        areas=np.array(areas, np.float32),
        polygons=polygons,
    )


def _label(j: np.ndarray, owner: np.ndarray, pid: int, yaw: float, width: int, height: int) -> np.ndarray:
    """(x, y, v) per joint: 0 outside the image, 1 hidden (by a nearer figure or, for the far
    ear of a turned head, by the head itself), 2 visible."""
    kp = np.zeros((K, 3), np.float32)
    for k in range(K):
        x, y = j[k]
        if not (0 <= x <= width - 1 and 0 <= y <= height - 1):
            continue
        visible = owner[int(round(y)), int(round(x))] == pid
        if k == (L_EAR if yaw > 0.35 else R_EAR if yaw < -0.35 else -1):
            visible = False
        kp[k] = (x, y, 2 if visible else 1)
    return kp


def _finish(rng: np.random.Generator, image: np.ndarray, config: SceneConfig) -> None:
    """Sensor look, in place: optional slight blur and Gaussian pixel noise."""
    if rng.random() < 0.3:
        cv2.GaussianBlur(image, (3, 3), 0, dst=image)
    noise = rng.standard_normal(size=image.shape, dtype=np.float32)
    noise *= rng.uniform(*config.noise)
    noise += image
    np.clip(noise, 0, 255, out=noise)
    np.copyto(image, noise, casting="unsafe")


def sample(rng: np.random.Generator, size: Size = (256, 256),
           config: SceneConfig = SceneConfig()) -> Tuple[np.ndarray, np.ndarray]:
    """One training sample: (image np.ndarray[H, W, 3] uint8 RGB, keypoints np.ndarray[N, 17, 3])."""
    scene = render_scene(rng, size, config)
    return scene.image, scene.keypoints


# ----------------------------------------------------------------------------------- data sets
def coco_categories() -> List[dict]:
    """The COCO "person" category with keypoint names and the (1-based, as in COCO files) skeleton."""
    return [{
        "id": 1, "name": "person", "supercategory": "person",
        "keypoints": list(COCO.joint_names),
        "skeleton": [[a + 1, b + 1] for a, b in COCO.skeleton],
    }]


def generate_dataset(out_dir: str, n_images: int, size: Size = (256, 256), seed: int = 0,
                     people: Tuple[int, int] = (1, 6), config: Optional[SceneConfig] = None,
                     image_format: str = "png", annotation_name: str = "annotations.json") -> str:
    """Write ``n_images`` images and a COCO keypoint annotation file; return the file's path.

    Layout: ``out_dir/images/000000000001.png`` ... and ``out_dir/annotations.json`` (images,
    annotations with keypoints [x, y, v] * 17, num_keypoints, bbox, area, segmentation,
    iscrowd = 0, and the person category).  Image ids count from 1.  PNG keeps the pixels
    exact; "jpg" (quality 95) makes smaller files.
    """
    cfg = config or SceneConfig(people=people)
    if config is not None and people != (1, 6):
        raise ValueError("pass people either directly or inside config, not both")
    img_dir = os.path.join(out_dir, "images")
    os.makedirs(img_dir, exist_ok=True)
    images, annotations = [], []
    for i in range(n_images):
        scene = render_scene(np.random.default_rng([seed, i]), size, cfg, with_polygons=True)
        image_id = i + 1
        name = f"{image_id:012d}.{image_format}"
        params = [cv2.IMWRITE_JPEG_QUALITY, 95] if image_format in ("jpg", "jpeg") else []
        if not cv2.imwrite(os.path.join(img_dir, name), cv2.cvtColor(scene.image, cv2.COLOR_RGB2BGR), params):
            raise OSError(f"cannot write {os.path.join(img_dir, name)}")
        h, w = scene.image.shape[:2]
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
        for kp, box, area, poly in zip(scene.keypoints, scene.boxes, scene.areas, scene.polygons):
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                "keypoints": [round(float(v), 2) for v in kp.reshape(-1)],
                "num_keypoints": int(np.count_nonzero(kp[:, 2] > 0)),
                "bbox": [float(v) for v in box], "area": float(area), "segmentation": poly,
            })
    path = os.path.join(out_dir, annotation_name)
    with open(path, "w") as f:
        json.dump({"info": {"description": f"swahr-infer synthetic people, seed {seed}"},
                   "images": images, "annotations": annotations,
                   "categories": coco_categories()}, f)
    logger.info("wrote %d images, %d people to %s", n_images, len(annotations), out_dir)
    return path
