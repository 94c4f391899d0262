"""The Estimator end to end on tiny real ONNX models."""

import cv2
import numpy as np
import pytest
from PIL import Image

from swahr_infer.backends import load_backend
from swahr_infer.errors import ImageError, ModelError, OptionError
from swahr_infer.estimator import Estimator, keypoint_scales
from swahr_infer.poses import Poses
from swahr_infer.skeleton import COCO

from .conftest import blob_image
from .tiny_model import build_tiny_model


def two_blobs(height=96, width=128, centres=((30.0, 40.0), (95.0, 60.0))):
    """A dark BGR image with two bright Gaussian blobs (one tiny-model person each)."""
    ys, xs = np.mgrid[0:height, 0:width]
    image = np.full((height, width, 3), 20.0)
    for (x, y), colour in zip(centres, ((60, 200, 230), (230, 120, 90))):
        image += np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * 5.0 ** 2))[:, :, None] * colour
    return np.clip(image, 0, 255).round().astype(np.uint8)


@pytest.fixture(scope="module")
def estimator(tiny_model):
    return Estimator(tiny_model, threads=1)


def test_poses_are_found_at_the_blobs_in_image_pixels(estimator):
    centres = ((30.0, 40.0), (95.0, 60.0))
    poses = estimator.predict(two_blobs(centres=centres))
    assert isinstance(poses, Poses)
    assert poses.keypoints.dtype == np.float32 and poses.scores.dtype == np.float32
    assert poses.joint_names == COCO.joint_names and poses.skeleton == COCO.skeleton
    assert poses.keypoint_scales is None  # this model has no scales output
    # every confident joint sits on a blob centre, and both blobs are found
    joints = poses.keypoints[poses.keypoints[..., 2] > 0.3][:, :2]
    distance = np.linalg.norm(joints[:, None] - np.array(centres)[None], axis=-1)
    assert distance.min(1).max() < 2.0
    assert set(distance.argmin(1)) == {0, 1}


def test_list_in_list_out_and_timings(estimator):
    images = [blob_image(seed=1), blob_image(80, 60, seed=2)]
    result = estimator.predict(images)
    assert isinstance(result, list) and len(result) == 2
    assert all(isinstance(p, Poses) for p in result)
    timings = estimator.last_timings
    assert timings["images"] == 2
    stages = ("load", "preprocess", "inference", "fusion", "decode", "postprocess")
    assert all(timings[s] >= 0 for s in stages)
    assert timings["total"] >= sum(timings[s] for s in stages[1:]) * 0.99
    assert estimator.predict([]) == []


def test_every_input_kind_gives_the_same_poses(estimator, tmp_path):
    bgr = blob_image(seed=3)
    path = tmp_path / "image.png"
    cv2.imwrite(str(path), bgr)
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    reference = estimator.predict(bgr)
    assert len(reference) > 0
    for other in (estimator.predict(rgb, rgb=True), estimator.predict(path),
                  estimator.predict(str(path)), estimator.predict(Image.fromarray(rgb))):
        np.testing.assert_array_equal(other.keypoints, reference.keypoints)
        np.testing.assert_array_equal(other.scores, reference.scores)


def test_fused_maps_shapes(estimator):
    fused, prepared = estimator.fused_maps(blob_image(96, 128))
    assert prepared.projected_size == (192, 128)
    assert fused.heatmaps.shape == (17, 128, 192)
    assert fused.tags.shape == (17, 128, 192, 2)


def test_no_flip_and_multi_scale(tiny_model):
    image = two_blobs()
    no_flip = Estimator(tiny_model, flip=False, threads=1)
    fused, _ = no_flip.fused_maps(image)
    assert fused.tags.shape[-1] == 1
    assert len(no_flip.predict(image)) >= 2
    multi = Estimator(tiny_model, scales=(1.0, 2.0), threads=1)
    assert multi.scales == (2.0, 1.0)
    fused, prepared = multi.fused_maps(image)
    assert [b.shape[2:] for b in prepared.batches] == [(256, 384), (128, 192)]
    assert fused.heatmaps.shape == (17, 128, 192)
    assert len(multi.predict(image)) >= 2


@pytest.mark.parametrize("scales, match", [
    ((2.0, 0.5), "include 1.0"),
    ((1.0, 1.0), "repeat"),
    ((), "empty"),
    ((1.0, -1.0), "positive"),
    ((1.0, 0.75), "multiple of 32"),  # 170-pixel side at scale 1.0
])
def test_bad_scales(tiny_model, scales, match):
    with pytest.raises(ValueError, match=match):
        Estimator(tiny_model, scales=scales)


def test_single_scale_other_than_one_is_allowed(tiny_model):
    est = Estimator(tiny_model, scales=(2.0,), threads=1)
    fused, prepared = est.fused_maps(two_blobs())
    assert prepared.batches[0].shape[2:] == (256, 384)
    assert prepared.projected_size == (192, 128)


def test_options_and_metadata_defaults(tiny_model):
    est = Estimator(tiny_model, detection_threshold=0.3, refine=False, threads=1)
    assert est.params.detection_threshold == 0.3 and est.params.refine is False
    assert est.params.tag_threshold == est.info.decode.tag_threshold
    assert est.input_size == 128
    assert Estimator(tiny_model, input_size=256).input_size == 256
    with pytest.raises(ModelError, match="17 joints"):
        Estimator(tiny_model, joint_names=COCO.joint_names[:14])
    with pytest.raises(ModelError, match="permutation"):
        Estimator(tiny_model, flip_index=[0] * 17)
    with pytest.raises(ValueError, match="not supported"):
        Estimator(tiny_model, no_such_option=1)


def test_a_loaded_backend_can_be_passed(tiny_model):
    net = load_backend(tiny_model, intra_op_num_threads=1)
    with Estimator(net) as est:
        assert est.backend is net
        assert len(est.predict(two_blobs())) >= 2


def test_keypoint_scales_from_a_scales_output(tiny_model_scales):
    est = Estimator(tiny_model_scales, threads=1)
    poses = est.predict(two_blobs())
    assert poses.keypoint_scales.shape == poses.keypoints.shape[:2]
    found = poses.keypoints[..., 2] > 0
    values = poses.keypoint_scales[found]
    # the tiny model's s lies in (-0.5, 0.5): 1 / sqrt(1 + s) in (0.81, 1.42)
    assert np.all((values > 0.8) & (values < 1.42))
    assert np.all(np.isnan(poses.keypoint_scales[~found]))


def test_keypoint_scales_sampling_by_hand():
    # scale map 2 x 4 at network resolution, projected maps twice as large, identity affine
    scale_map = np.zeros((2, 2, 4), np.float32)
    scale_map[0, 1, 2] = 0.44  # 1 / sqrt(1.44) = 1/1.2
    scale_map[1, 0, 0] = -1.5  # 1 + s < 0: undefined
    keypoints = np.array([[[5.5, 3.5, 0.9], [0.75, 0.25, 0.8]],
                          [[5.5, 3.5, 0.0], [100.0, -50.0, 0.3]]], np.float32)
    identity = np.array([[1, 0, 0], [0, 1, 0]], np.float64)
    out = keypoint_scales(keypoints, scale_map, identity, (8, 4))
    assert out[0, 0] == pytest.approx(1 / 1.2)
    assert np.isnan(out[0, 1])  # 1 + s <= 0
    assert np.isnan(out[1, 0])  # not found
    assert out[1, 1] == pytest.approx(1.0)  # outside the map: clamped to the border pixel (0, 3)
    assert keypoint_scales(np.zeros((0, 2, 3), np.float32), scale_map, identity,
                           (8, 4)).shape == (0, 2)


def test_optional_clean_ups(tiny_model):
    image = blob_image(seed=0)
    all_people = Estimator(tiny_model, threads=1).predict(image)
    assert len(all_people) > 2
    best_two = Estimator(tiny_model, max_people=2, threads=1).predict(image)
    assert best_two.scores.tolist() == sorted(all_people.scores, reverse=True)[:2]
    # a threshold between the scores found (0.06 to 0.997): some people go, some stay
    strong = Estimator(tiny_model, min_score=0.9, threads=1).predict(image)
    kept = all_people.scores >= 0.9
    assert 0 < len(strong) < len(all_people) and len(strong) == int(kept.sum())
    np.testing.assert_array_equal(strong.keypoints, all_people.keypoints[kept])  # order kept


@pytest.mark.parametrize("option, match", [
    (dict(min_score=float("nan")), "min_score must be a finite number"),  # would drop everyone
    (dict(min_score="0.3"), "min_score must be a finite number"),
    (dict(max_people=-1), "max_people must be a whole number"),  # would slice off the last
    (dict(max_people=0), "max_people must be a whole number"),
    (dict(max_people=2.5), "max_people must be a whole number"),  # a TypeError at predict
    (dict(dedup_oks=-1.0), r"dedup_oks is an OKS threshold in \(0, 1\]"),  # would keep one
    (dict(dedup_oks=1.5), r"dedup_oks is an OKS threshold"),
    (dict(threads=-1), "threads must be 0 or None"),
    (dict(threads=1.5), "threads must be 0 or None"),
])
def test_out_of_range_clean_up_options_are_refused(tiny_model, option, match):
    with pytest.raises(OptionError, match=match):
        Estimator(tiny_model, **option)


def test_elongated_and_fixed_size_inputs_fail_clearly(estimator, tmp_path):
    with pytest.raises(ImageError, match="too elongated"):
        estimator.predict(np.zeros((4, 2000, 3), np.uint8))
    static = Estimator(build_tiny_model(tmp_path / "s.onnx", static_shape=(2, 3, 128, 128)),
                       threads=1)
    assert len(static.predict(np.zeros((50, 50, 3), np.uint8))) == 0
    with pytest.raises(ModelError, match="fixed input of 128x128"):
        static.predict(np.zeros((50, 80, 3), np.uint8))


def test_no_bundled_model_gives_a_clear_error(monkeypatch, tmp_path):
    from swahr_infer import bundled

    monkeypatch.setattr(bundled, "DATA_DIR", tmp_path)
    with pytest.raises(ModelError, match="no model is bundled"):
        Estimator()
    model = build_tiny_model(tmp_path / "default.onnx")
    assert bundled.bundled_model() == model
    assert Estimator(threads=1).info.arch == "tiny"
