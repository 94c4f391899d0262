"""The preprocessing kernel against the CPU path (cv2.warpAffine + normalisation table)."""

import numpy as np
import pytest

from swahr_infer.gpu.preprocess import DevicePreprocessor, warp_mode, warp_reference
from swahr_infer.preprocess import normalization_table, plan_scales, to_batch, warp

pytestmark = pytest.mark.gpu

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _image(h, w, seed, sharp):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    if not sharp:  # a smooth photo-like picture as well as worst-case noise
        import cv2

        image = cv2.GaussianBlur(image, (0, 0), 3)
    return image


@pytest.mark.parametrize("hw", [(97, 211), (481, 333), (333, 777), (1080, 1920), (17, 5)])
@pytest.mark.parametrize("scales", [(1.0,), (2.0, 1.0, 0.5)])
@pytest.mark.parametrize("flip", [True, False])
@pytest.mark.parametrize("order", ["bgr", "rgb"])
def test_kernel_matches_cpu_batches(cp, poisoned, hw, scales, flip, order):
    image = _image(*hw, seed=sum(hw), sharp=hw[0] % 2 == 1)
    pre = DevicePreprocessor(MEAN, STD)
    table = normalization_table(MEAN, STD, order)
    device_image = cp.asarray(image)
    std = np.asarray(STD, np.float32)[None, :, None, None]
    for geometry in plan_scales(hw, 512, scales)[0]:
        width, height = geometry.size
        out = poisoned((2 if flip else 1, 3, height, width))
        got = pre(device_image, geometry, flip=flip, channel_order=order, out=out).get()
        expected = to_batch(warp(image, geometry), table, flip=flip, channel_order=order)
        assert np.isfinite(got).all(), "unwritten output"
        # in [0, 1] pixel units: at most one level of 255 anywhere (OpenCV-version rounding)
        assert (np.abs(got - expected) * std).max() <= 1 / 255 + 1e-6
        # and bit-identical almost everywhere when the warp algorithm matches OpenCV's
        assert np.count_nonzero(got != expected) <= got.size // 1000


@pytest.mark.parametrize("mode", ["fixed", "float"])
def test_kernel_matches_its_numpy_model(cp, mode):
    """Both warp algorithms, whichever the installed OpenCV uses, against warp_reference."""
    image = _image(481, 333, seed=5, sharp=True)
    pre = DevicePreprocessor(MEAN, STD, mode=mode)
    table = normalization_table(MEAN, STD, "rgb")
    for geometry in plan_scales(image.shape[:2], 512, (2.0, 1.0, 0.5))[0]:
        got = pre(cp.asarray(image), geometry, flip=False, channel_order="rgb").get()
        levels = warp_reference(image, geometry.affine(), geometry.size, mode)
        expected = to_batch(levels, table, flip=False)
        mismatched = np.count_nonzero(got != expected)
        assert mismatched <= got.size // 100000  # numpy emulates fma in float64 (rare ties)


def test_mode_follows_opencv(cp):
    assert DevicePreprocessor(MEAN, STD).mode == warp_mode()


def test_rejects_bad_images(cp):
    pre = DevicePreprocessor(MEAN, STD)
    geometry = plan_scales((64, 64), 128, (1.0,))[0][0]
    with pytest.raises(ValueError, match="uint8"):
        pre(cp.zeros((64, 64, 3), np.float32), geometry, flip=True)
    with pytest.raises(ValueError, match="channel_order"):
        pre(cp.zeros((64, 64, 3), np.uint8), geometry, flip=True, channel_order="hsv")
