"""Augmentation moves keypoints exactly as it moves the pixels."""

import cv2
import numpy as np

from export.augment import AugmentConfig, apply_matrix, hflip, random_affine, similarity_matrix
from swahr_infer.skeleton import COCO


def dot_image(points, size=(120, 100)):
    image = np.zeros((size[1], size[0], 3), np.uint8)
    for x, y in points:
        cv2.circle(image, (int(x), int(y)), 3, (0, 0, 255), -1)
    return image


def test_similarity_matrix_maps_box_centre_to_output_centre():
    m = similarity_matrix((50.0, 40.0), 100.0, 64, 30.0)
    assert np.allclose(m @ [50, 40, 1], [32, 32])
    assert np.isclose(np.linalg.det(m[:, :2]), (64 / 100) ** 2)


def test_random_affine_keeps_keypoints_on_their_pixels():
    points = [(30, 30), (80, 50), (60, 80)]
    kp = np.array([[[x, y, 2] for x, y in points]], float)
    for seed in range(5):
        for i, point in enumerate(points):  # one dot per image, same random warp
            image = dot_image([point])
            warped, moved = random_affine(np.random.default_rng(seed), image, kp, 96,
                                          AugmentConfig(min_scale=1.0, max_scale=1.3))
            assert warped.shape == (96, 96, 3)
            x, y, v = moved[0, i]
            assert v == 2
            if 8 <= x < 88 and 8 <= y < 88:  # the whole dot inside
                weight = warped[..., 2].astype(float)
                ys, xs = np.mgrid[0:96, 0:96]
                cx, cy = (weight * xs).sum() / weight.sum(), (weight * ys).sum() / weight.sum()
                assert abs(cx - x) < 0.5 and abs(cy - y) < 0.5


def test_hflip_mirrors_pixels_and_swaps_joint_sides():
    kp = np.zeros((1, 17, 3))
    kp[0, 5] = (30, 40, 2)  # left shoulder
    kp[0, 6] = (80, 40, 2)  # right shoulder
    image = dot_image([(30, 40)])
    flipped, fkp = hflip(image, kp, COCO.flip_index)
    assert np.array_equal(flipped, image[:, ::-1])
    assert tuple(fkp[0, 6]) == (120 - 1 - 30, 40, 2)  # the old left shoulder is now the right one
    assert tuple(fkp[0, 5]) == (120 - 1 - 80, 40, 2)
    assert not fkp[0, [0, 1, 2, 3, 4] + list(range(7, 17))].any()
    weight = flipped[..., 2].astype(float)
    ys, xs = np.mgrid[0:100, 0:120]
    cx, cy = (weight * xs).sum() / weight.sum(), (weight * ys).sum() / weight.sum()
    assert abs(cx - fkp[0, 6, 0]) < 0.2 and abs(cy - 40) < 0.2


def test_apply_matrix_identity():
    kp = np.arange(2 * 3 * 3, dtype=float).reshape(2, 3, 3)
    out = apply_matrix(kp, np.array([[1.0, 0, 0], [0, 1.0, 0]]))
    assert np.array_equal(out, kp) and out is not kp
