"""Sizes, affines and normalisation against values worked out by hand from the official rules."""

import cv2
import numpy as np
import pytest

from swahr_infer.affine import apply_affine, box_affine
from swahr_infer.preprocess import (normalization_table, plan_scales, prepare, round_up_64,
                                    scale_geometry, to_batch, warp)

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def test_round_up_64():
    # (v + 63) // 64 * 64: a ceiling for whole numbers only (64.5 -> 64, as in the official code)
    assert [round_up_64(v) for v in (0, 1, 64, 64.5, 65, 256, 307.2, 770.29)] == [
        0, 64, 64, 64, 128, 256, 320, 832]


@pytest.mark.parametrize("hw, size, center, box", [
    # landscape 640x480: short side 512, long side round64(512 / 480 * 640 = 682.7) = 704
    ((480, 640), (704, 512), (320, 240), (3.3, 2.4)),
    # portrait: the same, transposed
    ((640, 480), (512, 704), (240, 320), (2.4, 3.3)),
    # odd portrait 333x501: centre int(166.5 + 0.5), long side round64(770.3) = 832
    ((501, 333), (512, 832), (167, 251), (1.665, 832 / 512 * 1.665)),
    # near-square landscape 101x99: w >= h branch, long side round64(522.3) = 576
    ((99, 101), (576, 512), (51, 50), (576 / 512 * 0.495, 0.495)),
    # square: w >= h branch, 512x512
    ((300, 300), (512, 512), (150, 150), (1.5, 1.5)),
])
def test_single_scale_geometry(hw, size, center, box):
    g = scale_geometry(hw, 512, 1.0, 1.0)
    assert g.size == size
    assert g.center == center
    assert g.box_scale == pytest.approx(box, rel=1e-12)


def test_multi_scale_sizes_round_at_the_smallest_scale():
    # scales (2, 1, 0.5) on 640x480: base round64(0.5 * 512) = 256, long side round64(341.3) = 384
    geometries, projected, to_image = plan_scales((480, 640), 512, (0.5, 2.0, 1.0))
    assert [g.factor for g in geometries] == [2.0, 1.0, 0.5]
    assert [g.size for g in geometries] == [(1536, 1024), (768, 512), (384, 256)]
    assert projected == (768, 512)  # != (704, 512) of a single-scale run
    # box width 3.6 * 200 = 720 image px over 768 projected px, centred on (320, 240)
    np.testing.assert_allclose(to_image, [[0.9375, 0, -40], [0, 0.9375, 0]], atol=1e-5)


def test_final_transform_uses_the_smallest_scale_box():
    # 350x300 with scales (1, 0.75): at 0.75 the width is round64(448) = 448 -> box 1.75;
    # at 1.0 it is int(448 / 0.75) = 597 -> box 597 / 512 * 1.5 = 1.749; the official code maps
    # back with the smallest scale's box (1.75) and the projected size (597 x 512)
    geometries, projected, to_image = plan_scales((300, 350), 512, (1.0, 0.75))
    assert projected == (597, 512)
    assert geometries[0].box_scale[0] == pytest.approx(597 / 512 * 1.5)
    assert geometries[1].box_scale[0] == pytest.approx(1.75)
    assert to_image[0, 0] == pytest.approx(350 / 597, rel=1e-6)
    np.testing.assert_allclose(apply_affine([298.5, 256.0], to_image), [175, 150], atol=1e-4)


def _official_recipe_matrix(center, box_w, out_w, out_h):
    """Three float32 point pairs solved by cv2.getAffineTransform, written out by hand."""
    cx, cy = center
    src = np.float32([[cx, cy], [cx, cy - box_w / 2], [cx - box_w / 2, cy - box_w / 2]])
    dst = np.float32([[out_w / 2, out_h / 2], [out_w / 2, out_h / 2 - out_w / 2],
                      [out_w / 2 - out_w / 2, out_h / 2 - out_w / 2]])
    return cv2.getAffineTransform(src, dst)


@pytest.mark.parametrize("hw", [(480, 640), (640, 480), (501, 333), (99, 101)])
def test_box_affine_matches_the_three_point_recipe_and_inverts(hw):
    g = scale_geometry(hw, 512, 1.0, 1.0)
    forward = g.affine()
    expected = _official_recipe_matrix(g.center, g.box_scale[0] * 200, *g.size)
    np.testing.assert_array_equal(forward, expected)
    assert forward.dtype == np.float64 and forward.shape == (2, 3)
    zoom = g.size[0] / (g.box_scale[0] * 200)
    np.testing.assert_allclose(forward[:, :2], np.eye(2) * zoom, atol=1e-6)
    # centre of the box lands in the centre of the output
    np.testing.assert_allclose(apply_affine(g.center, forward), np.array(g.size) / 2, atol=1e-4)
    inverse = g.affine(inverse=True)
    corners = np.array([[0, 0], [g.size[0], g.size[1]], [10.5, 3.25]])
    np.testing.assert_allclose(apply_affine(apply_affine(corners, inverse), forward), corners,
                               atol=1e-3)
    np.testing.assert_array_equal(inverse, box_affine(g.center, g.box_scale, g.size, inverse=True))


def test_warp_equals_cv2_with_default_flags():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (333, 501, 3), np.uint8)
    g = scale_geometry(image.shape[:2], 512, 1.0, 1.0)
    matrix = _official_recipe_matrix(g.center, g.box_scale[0] * 200, *g.size)
    expected = cv2.warpAffine(image, matrix, g.size, flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    np.testing.assert_array_equal(warp(image, g), expected)


def _reference_normalise(image_rgb):
    """ToTensor + Normalize in float32: x / 255, then (x - mean) / std, CHW."""
    x = image_rgb.astype(np.float32) / np.float32(255)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return x.transpose(2, 0, 1)


def test_normalisation_is_bit_identical_and_flip_is_a_mirror():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (64, 96, 3), np.uint8)
    batch = to_batch(rgb, normalization_table(MEAN, STD), flip=True)
    assert batch.shape == (2, 3, 64, 96) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch[0], _reference_normalise(rgb))
    np.testing.assert_array_equal(batch[1], batch[0][:, :, ::-1])
    single = to_batch(rgb, normalization_table(MEAN, STD), flip=False)
    assert single.shape == (1, 3, 64, 96)
    # a BGR image normalised with the BGR table gives the same RGB batch
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    np.testing.assert_array_equal(
        to_batch(bgr, normalization_table(MEAN, STD, "bgr"), flip=True, channel_order="bgr"),
        batch)


def test_normalisation_table_rejects_unknown_order():
    with pytest.raises(ValueError, match="channel_order"):
        normalization_table(MEAN, STD, "rgba")


def test_prepare_multi_scale_batches():
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (120, 160, 3), np.uint8)
    prepared = prepare(rgb, input_size=128, scales=(1.0, 2.0), mean=MEAN, std=STD, flip=True)
    # base round64(128) = 128; long side round64(170.7) = 192
    assert [b.shape for b in prepared.batches] == [(2, 3, 256, 384), (2, 3, 128, 192)]
    assert prepared.projected_size == (192, 128)
    assert prepared.image_hw == (120, 160)
    for g, batch in zip(prepared.geometries, prepared.batches):
        warped = cv2.warpAffine(rgb, g.affine(), g.size)
        np.testing.assert_array_equal(batch[0], _reference_normalise(warped))
