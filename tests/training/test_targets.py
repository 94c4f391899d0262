"""Heatmap targets and tag indices, on hand-made cases with known answers."""

import numpy as np

from export.targets import (gaussian_patch, heatmap_targets, joint_indices, keypoints_to_output,
                            stage_targets)


def one_joint(x, y, k=0, v=2, num_joints=3):
    kp = np.zeros((1, num_joints, 3))
    kp[0, k] = (x, y, v)
    return kp


def test_gaussian_peak_on_truncated_pixel_with_official_window():
    maps = heatmap_targets(one_joint(10.7, 5.2), 32, sigma=2)
    assert maps.shape == (3, 32, 32) and maps.dtype == np.float32
    assert maps[0, 5, 10] == 1.0 and np.unravel_index(maps[0].argmax(), (32, 32)) == (5, 10)
    assert np.isclose(maps[0, 5, 12], np.exp(-4 / 8))
    assert np.isclose(maps[0, 7, 8], np.exp(-8 / 8))
    # the patch reaches 3 sigma + 1 = 7 pixels from the peak, no further
    assert maps[0, 5, 17] > 0 and maps[0, 5, 18] == 0 and maps[0, 12, 10] > 0 and maps[0, 13, 10] == 0
    assert not maps[1:].any()


def test_integer_sigma_equals_closed_form_inside_window():
    maps = heatmap_targets(one_joint(20, 14), (30, 40), sigma=3)
    yy, xx = np.mgrid[0:30, 0:40]
    inside = (np.abs(xx - 20) <= 10) & (np.abs(yy - 14) <= 10)
    expected = np.where(inside, np.exp(-((xx - 20) ** 2 + (yy - 14) ** 2) / 18.0), 0)
    np.testing.assert_allclose(maps[0], expected, rtol=1e-6, atol=1e-7)


def test_half_integer_window_puts_the_peak_between_pixels_as_official():
    # 6 * 1.5 + 3 = 12 samples centred at 5.5: the official kernel has no centre sample
    patch = gaussian_patch(1.5)
    assert patch.shape == (12, 12) and patch.max() < 1
    maps = heatmap_targets(one_joint(10, 10), 32, sigma=1.5)
    assert np.isclose(maps[0, 10, 10], maps[0, 10, 9]) and np.isclose(maps[0, 10, 10], maps[0].max())


def test_overlaps_take_the_maximum_and_invalid_joints_are_skipped():
    kp = np.zeros((4, 2, 3))
    kp[0, 0] = (8, 8, 2)
    kp[1, 0] = (11, 8, 1)  # occluded but labelled: still a target
    kp[2, 0] = (20, 20, 0)  # unlabelled
    kp[3, 1] = (-1, 5, 2)  # outside the map
    maps = heatmap_targets(kp, 24, sigma=2)
    assert maps[0, 8, 8] == 1 and maps[0, 8, 11] == 1
    assert np.isclose(maps[0, 8, 9], np.exp(-1 / 8))  # max of exp(-1/8) and exp(-4/8)
    assert maps[0, 20, 20] == 0 and not maps[1].any()


def test_joint_indices_pack_valid_joints_per_person():
    kp = np.zeros((2, 3, 3))
    kp[0, 0] = (1.9, 2.2, 2)
    kp[0, 1] = (3, 3, 0)  # unlabelled: skipped
    kp[0, 2] = (4, 0, 1)
    kp[1, 1] = (7.5, 7.5, 2)
    kp[1, 2] = (9, 1, 2)  # outside (W = 8): skipped
    idx = joint_indices(kp, 8, max_people=3)
    assert idx.shape == (3, 3, 2)
    assert idx[0].tolist() == [[0 * 64 + 2 * 8 + 1, 1], [2 * 64 + 0 * 8 + 4, 1], [0, 0]]
    assert idx[1].tolist() == [[1 * 64 + 7 * 8 + 7, 1], [0, 0], [0, 0]]
    assert not idx[2].any()
    assert joint_indices(kp, 8, max_people=1).shape == (1, 3, 2)  # extra people dropped


def test_stage_targets_scale_input_pixels_to_each_output():
    kp = one_joint(100.0, 60.0, num_joints=17)
    assert np.allclose(keypoints_to_output(kp, 256, 64)[0, 0], (25, 15, 2))
    heatmaps, indices = stage_targets(kp, 256, (64, 128), sigma=2, max_people=5)
    assert [h.shape for h in heatmaps] == [(17, 64, 64), (17, 128, 128)]
    assert heatmaps[0][0, 15, 25] == 1 and heatmaps[1][0, 30, 50] == 1
    assert indices[0][0, 0].tolist() == [15 * 64 + 25, 1] and indices[1].shape == (5, 17, 2)
