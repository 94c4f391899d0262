"""Errors of the Python API and of options: typed (OptionError / ModelError / ImageError), one
line on the command line, raised before any work where they can be, and a list call that keeps
the good images when asked to."""

import cv2
import numpy as np
import pytest

from swahr_infer import Estimator
from swahr_infer.cli import main
from swahr_infer.errors import ImageError, ModelError, OptionError, OutputError

from .conftest import blob_image
from .tiny_model import pose_model


@pytest.mark.parametrize("options, message", [
    (dict(scales=(2.0, 0.5)), "must include 1.0"),
    (dict(scales=(0.0,)), "scales must be positive numbers"),
    (dict(scales=(1.0, 1.0)), "must not repeat"),
    (dict(scales=(1.0, 0.75)), "not a multiple of"),
    (dict(detection_threshold=float("nan")), "detection_threshold must be >= 0"),
    (dict(tag_threshold=0.0), "tag_threshold must be > 0"),
    (dict(input_size=-64), "input_size must be positive"),
    (dict(backend="foo"), "unknown backend 'foo'"),
])
def test_bad_options_are_option_errors(tiny_model, options, message):
    with pytest.raises(OptionError, match=message) as info:
        Estimator(tiny_model, **options)
    assert isinstance(info.value, ValueError)  # callers that caught ValueError still do


@pytest.mark.parametrize("argv, message", [
    (["--scales", "2", "0.5"], "must include 1.0"),
    (["--scales", "-1"], "scales must be positive numbers"),
    (["--detection-threshold", "nan"], "detection_threshold must be >= 0"),
    (["--backend", "foo"], "unknown backend 'foo'"),
])
def test_bad_options_are_one_line_on_the_command_line(tiny_model, tmp_path, argv, message, capsys):
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), blob_image())
    assert main(["predict", str(image), "--model", str(tiny_model), "--no-progress", *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("swahr-infer predict: error:") and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_list_keeps_its_good_images_with_return_exceptions(tiny_model, tmp_path):
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), blob_image())
    est = Estimator(tiny_model)
    items = [str(good), str(tmp_path / "missing.jpg"), np.zeros((0, 5, 3), np.uint8), blob_image()]
    with pytest.raises(ImageError, match="missing.jpg"):
        est.predict(items)
    out = est.predict(items, return_exceptions=True)
    assert [type(o).__name__ for o in out] == ["Poses", "ImageError", "ImageError", "Poses"]
    assert est.last_timings["images"] == 4
    alone = est.predict(str(good))
    np.testing.assert_array_equal(out[0].keypoints, alone.keypoints)  # same as on its own


def test_outputs_that_contradict_the_metadata_are_a_model_error(tmp_path):
    """Wrong output shapes are the model's fault, the same for every image: a ModelError, raised
    even with return_exceptions (test_predict_checks.py: a folder run stops at once)."""
    est = Estimator(str(pose_model(tmp_path / "three_channels.onnx", channels=3)), flip=False)
    with pytest.raises(ModelError, match="output 'heatmaps' has shape") as info:
        est.predict([blob_image()], return_exceptions=True)
    assert not isinstance(info.value, OutputError)


def test_plot_takes_what_predict_takes(tiny_model, tmp_path):
    bgr = blob_image()
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), bgr)
    poses = Estimator(tiny_model).predict(str(path))
    assert len(poses) > 0
    from_array = poses.plot(bgr)
    np.testing.assert_array_equal(poses.plot(str(path)), from_array)  # read as BGR
    assert not np.array_equal(from_array, bgr)  # something was drawn, on a copy
    gray = poses.plot(bgr[:, :, 0])
    assert gray.shape == bgr.shape and gray.dtype == np.uint8
    with pytest.raises(ImageError):
        poses.plot(tmp_path / "missing.png")
