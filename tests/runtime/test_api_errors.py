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
    (dict(detection_threshold=float("nan")), "detection_threshold must be a number >= 0"),
    (dict(tag_threshold=0.0), "tag_threshold must be a number > 0"),
    (dict(input_size=-64), "input_size must be positive"),
    (dict(backend="foo"), "unknown backend 'foo'"),
    (dict(flip="no"), "flip must be True or False, not 'no'"),  # a string is truthy: flip on
    (dict(scales="12"), "scales must be a sequence of numbers"),  # read as (2.0, 1.0) before
    (dict(scales=None), "scales must be a sequence of numbers"),
    (dict(input_size=512.7), "input_size must be a whole number of pixels"),  # cut to 512
])
def test_bad_options_are_option_errors(tiny_model, options, message):
    with pytest.raises(OptionError, match=message) as info:
        Estimator(tiny_model, **options)
    assert isinstance(info.value, ValueError)  # callers that caught ValueError still do


@pytest.mark.parametrize("argv, message", [
    (["--scales", "2", "0.5"], "must include 1.0"),
    (["--scales", "-1"], "scales must be positive numbers"),
    (["--detection-threshold", "nan"], "detection_threshold must be a number >= 0"),
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


@pytest.mark.parametrize("options, message", [
    (dict(max_num_people=2.5), "max_num_people must be a whole number >= 1, got 2.5"),
    (dict(max_num_people=True), "max_num_people must be a whole number >= 1, got True"),
    (dict(nms_kernel=4), "nms_kernel must be an odd whole number >= 1, got 4"),
    (dict(detection_threshold="0.1"), "detection_threshold must be a number >= 0, got '0.1'"),
])
def test_decode_options_of_the_wrong_kind_are_refused_at_construction(tiny_model, options,
                                                                      message):
    """Before: a raw TypeError / IndexError deep in decoding at every predict call."""
    with pytest.raises(OptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Estimator(tiny_model, **options)


def test_whole_number_floats_are_taken_as_counts(tiny_model):
    image = blob_image(seed=0)
    as_floats = Estimator(tiny_model, max_num_people=10.0, nms_kernel=3.0, threads=1)
    assert (as_floats.params.max_num_people, as_floats.params.nms_kernel) == (10, 3)
    as_ints = Estimator(tiny_model, max_num_people=10, nms_kernel=3, threads=1)
    np.testing.assert_array_equal(as_floats.predict(image).keypoints,
                                  as_ints.predict(image).keypoints)


def test_threads_sharing_an_estimator_get_each_their_own_poses(tiny_model):
    """The fused-map buffers are reused between calls: calls from two threads take turns
    instead of overwriting each other's maps (before: other images' people in the result)."""
    from concurrent.futures import ThreadPoolExecutor

    estimator = Estimator(tiny_model, threads=1)
    images = [blob_image(seed=s) for s in range(4)]
    expected = [estimator.predict(image) for image in images]
    assert len({len(p) for p in expected}) > 1  # the images differ in their people
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(estimator.predict, images * 3))
    for i, poses in enumerate(got):
        np.testing.assert_array_equal(poses.keypoints, expected[i % 4].keypoints)


def test_pil_images_of_wide_and_float_modes(tiny_model, tmp_path):
    from PIL import Image

    gray = cv2.cvtColor(blob_image(seed=1), cv2.COLOR_BGR2GRAY)
    wide = gray.astype(np.uint16) * 257
    assert cv2.imwrite(str(tmp_path / "g16.png"), wide)
    pil = Image.open(tmp_path / "g16.png")
    assert pil.mode.startswith("I")  # PIL's own RGB conversion would clip it all to white
    estimator = Estimator(tiny_model, threads=1)
    from_file, from_pil = estimator.predict(tmp_path / "g16.png"), estimator.predict(pil)
    assert len(from_file) > 0
    np.testing.assert_array_equal(from_pil.keypoints, from_file.keypoints)
    with pytest.raises(ImageError, match="float \\(mode 'F'\\) PIL image is ambiguous"):
        estimator.predict(Image.fromarray(gray.astype(np.float32) / 255))


def test_a_truncated_pil_image_and_a_nul_path_are_image_errors_in_a_list(tiny_model):
    import io

    from PIL import Image

    ok, jpeg = cv2.imencode(".jpg", blob_image(seed=2))
    truncated = Image.open(io.BytesIO(jpeg.tobytes()[:len(jpeg) // 2]))  # header whole
    out = Estimator(tiny_model, threads=1).predict(
        [blob_image(seed=2), truncated, "a\0b.jpg"], return_exceptions=True)
    assert len(out[0]) > 0
    assert isinstance(out[1], ImageError) and "PIL image cannot be read" in str(out[1])
    assert isinstance(out[2], ImageError) and "cannot contain a NUL character" in str(out[2])


def test_metadata_from_a_newer_exporter_or_malformed_is_handled(tmp_path):
    import json

    from swahr_infer.metadata import PREFIX, ModelInfo, read_onnx_props
    from swahr_infer.bundled import bundled_model

    props = read_onnx_props(str(bundled_model()))
    newer = dict(props)
    newer[PREFIX + "decode"] = json.dumps({**json.loads(props[PREFIX + "decode"]),
                                           "min_keypoints": 3})  # a field we do not know
    assert ModelInfo.from_props(newer).decode == ModelInfo.from_props(props).decode
    for key, raw in (("decode", "3"), ("format_version", "null"), ("joint_names", "null")):
        with pytest.raises(ModelError, match="m.onnx: malformed swahr.\\* metadata"):
            ModelInfo.from_props({**props, PREFIX + key: raw}, source="m.onnx")


def test_drawing_refuses_bad_sizes_and_skips_joints_it_cannot_place(tiny_model):
    from swahr_infer.poses import Poses

    image = blob_image(seed=0)
    poses = Estimator(tiny_model, threads=1).predict(image)
    assert len(poses) >= 2
    for bad in (-3, 2.5):
        with pytest.raises(OptionError, match="radius must be a whole number of pixels"):
            poses.plot(image, radius=bad)
    # a person with NaN or astronomically far joints (user-built results) is left out of the
    # picture instead of failing in OpenCV; the others are drawn as before
    keypoints = poses.keypoints.copy()
    keypoints[0, :, :2], keypoints[1, :, :2] = np.nan, 1e12
    broken = Poses(keypoints, poses.scores).plot(image)
    hidden = poses.keypoints.copy()
    hidden[:2, :, 2] = 0  # the same two people with no joint found (colours stay per index)
    np.testing.assert_array_equal(broken, Poses(hidden, poses.scores).plot(image))
    assert not np.array_equal(broken, image)  # the others are drawn


def test_poses_refuse_keypoints_and_skeletons_of_another_layout():
    from swahr_infer.poses import Poses

    with pytest.raises(ValueError, match=r"keypoints of shape \(2, 5, 3\) are not \[N, 17, 3\]"):
        Poses(np.zeros((2, 5, 3)), [1.0, 2.0])
    with pytest.raises(ValueError, match=r"skeleton pairs \[\(0, 40\)\] name joints outside 0..16"):
        Poses(np.zeros((1, 17, 3)), [1.0], skeleton=((0, 40),))


def test_decode_bytes_takes_bytes_or_uint8_and_big_endian_16_bit_arrays_work(tiny_model):
    from swahr_infer.image_io import decode_bytes

    ok, jpeg = cv2.imencode(".png", blob_image(seed=3))
    assert decode_bytes(jpeg.tobytes()).shape == decode_bytes(jpeg).shape
    for bad, kind in (("abc", "str"), ([1, 2, 300], "list"), (np.zeros(4, np.int64), "ndarray")):
        with pytest.raises(ImageError, match=f"must be bytes or a uint8 array, not {kind}"):
            decode_bytes(bad, "x")
    wide = blob_image(seed=3).astype(np.uint16) * 257
    estimator = Estimator(tiny_model, threads=1)
    np.testing.assert_array_equal(estimator.predict(wide.astype(">u2")).keypoints,
                                  estimator.predict(wide).keypoints)
