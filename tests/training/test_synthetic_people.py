"""The synthetic people generator: determinism, label semantics, COCO files, scale spread."""

import json
import os

import cv2
import numpy as np
import pytest

from export.synthetic_people import (L_SHO, R_SHO, SceneConfig, coco_categories, generate_dataset,
                                     render_scene, sample)
from swahr_infer.skeleton import COCO


def test_same_seed_same_scene_and_different_seeds_differ():
    a = render_scene(np.random.default_rng([3, 1]))
    b = render_scene(np.random.default_rng([3, 1]))
    c = render_scene(np.random.default_rng([3, 2]))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.keypoints, b.keypoints)
    assert not np.array_equal(a.image, c.image)


def test_sample_shapes_and_label_semantics():
    for seed in range(20):
        image, kp = sample(np.random.default_rng(seed), (160, 96))
        assert image.shape == (96, 160, 3) and image.dtype == np.uint8
        assert kp.ndim == 3 and kp.shape[1:] == (17, 3) and kp.dtype == np.float32
        assert set(np.unique(kp[..., 2])) <= {0.0, 1.0, 2.0}
        labelled = kp[..., 2] > 0
        assert np.all(kp[~labelled][:, :2] == 0)  # unlabelled joints are (0, 0, 0)
        x, y = kp[..., 0][labelled], kp[..., 1][labelled]
        assert np.all((x >= 0) & (x <= 159) & (y >= 0) & (y <= 95))
        assert np.all(labelled.any(axis=1))  # nobody without a labelled joint


def test_people_count_range_and_occlusion_flags():
    counts, occluded = [], 0
    for seed in range(60):
        scene = render_scene(np.random.default_rng(seed), config=SceneConfig(people=(2, 5)))
        counts.append(len(scene.keypoints))
        occluded += int(np.sum(scene.keypoints[..., 2] == 1))
    assert max(counts) <= 5 and min(counts) >= 1  # people cut off entirely are dropped
    assert np.mean(counts) > 2.5
    assert occluded > 0  # crowds produce hidden joints


def test_people_face_the_camera_left_side_on_image_right():
    cfg = SceneConfig(lean_deg=0.0, big_lean_prob=0.0)
    checked = 0
    for seed in range(30):
        kp = render_scene(np.random.default_rng(seed), config=cfg).keypoints
        both = (kp[:, L_SHO, 2] > 0) & (kp[:, R_SHO, 2] > 0)
        assert np.all(kp[both, L_SHO, 0] > kp[both, R_SHO, 0])
        checked += int(both.sum())
    assert checked > 30


def test_scale_spread_from_tiny_to_frame_high():
    heights = []
    for seed in range(80):
        scene = render_scene(np.random.default_rng(seed), (256, 256))
        heights += list(scene.boxes[:, 3])
    heights = np.array(heights)
    assert heights.min() < 40 and heights.max() > 180


def test_generate_dataset_writes_coco_keypoint_file(tmp_path):
    path = generate_dataset(str(tmp_path), 4, size=((200, 260), (180, 240)), seed=5)
    with open(path) as f:
        data = json.load(f)
    assert [im["id"] for im in data["images"]] == [1, 2, 3, 4]
    cat = data["categories"][0]
    assert cat["keypoints"] == list(COCO.joint_names)
    assert cat["skeleton"] == [[a + 1, b + 1] for a, b in COCO.skeleton] == coco_categories()[0]["skeleton"]
    sizes = {im["id"]: (im["width"], im["height"]) for im in data["images"]}
    assert all(200 <= w <= 260 and 180 <= h <= 240 for w, h in sizes.values())
    ids = [a["id"] for a in data["annotations"]]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) >= 4
    for ann in data["annotations"]:
        kp = np.array(ann["keypoints"]).reshape(17, 3)
        assert ann["num_keypoints"] == int(np.sum(kp[:, 2] > 0)) > 0
        assert ann["iscrowd"] == 0 and ann["category_id"] == 1 and ann["area"] > 0
        x, y, w, h = ann["bbox"]
        W, H = sizes[ann["image_id"]]
        assert 0 <= x and 0 <= y and x + w <= W and y + h <= H
        assert ann["segmentation"] and all(len(p) >= 6 for p in ann["segmentation"])
    for im in data["images"]:
        img = cv2.imread(os.path.join(tmp_path, "images", im["file_name"]))
        assert img.shape == (im["height"], im["width"], 3)
    # PNG keeps the pixels: the file is the rendered scene (RGB on disk as BGR)
    scene = render_scene(np.random.default_rng([5, 0]), ((200, 260), (180, 240)), with_polygons=True)
    first = cv2.imread(os.path.join(tmp_path, "images", data["images"][0]["file_name"]))
    assert np.array_equal(first[..., ::-1], scene.image)


def test_generated_file_loads_in_pycocotools(tmp_path):
    coco = pytest.importorskip("pycocotools.coco")
    path = generate_dataset(str(tmp_path), 2, seed=1)
    gt = coco.COCO(path)
    assert len(gt.getImgIds()) == 2 and len(gt.getAnnIds()) > 0
