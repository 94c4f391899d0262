"""Fixtures of the runtime tests: tiny contract-following ONNX models and small images."""

import cv2
import numpy as np
import pytest

from .tiny_model import build_tiny_model, make_info


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A tiny COCO (17-joint) model, input size 128, dynamic shapes, no scales output."""
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny.onnx")


@pytest.fixture(scope="session")
def tiny_model_scales(tmp_path_factory):
    """The tiny model with the optional ``scales`` output."""
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny_scales.onnx",
                            make_info(has_scale_output=True))


def blob_image(height=96, width=128, seed=0, blobs=6):
    """A BGR uint8 image: smooth bright Gaussian blobs on a dark background (heatmap peaks)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    image = np.full((height, width, 3), 20.0)
    for _ in range(blobs):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        sigma = rng.uniform(3, 8)
        color = rng.uniform(120, 235, 3)
        image += np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2))[:, :, None] * color
    return np.clip(image, 0, 255).round().astype(np.uint8)


@pytest.fixture
def image_dir(tmp_path):
    """A folder with three decodable images (one in a subfolder, one numeric name)."""
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    cv2.imwrite(str(folder / "a.jpg"), blob_image(seed=1))
    cv2.imwrite(str(folder / "000123.png"), blob_image(80, 60, seed=2))
    cv2.imwrite(str(folder / "sub" / "c.png"), blob_image(64, 64, seed=3))
    return folder
