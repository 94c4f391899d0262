"""Optional clean-ups: OKS duplicate suppression, score filter, top-n."""

import numpy as np
import pytest

from swahr_infer.poses import Poses
from swahr_infer.postprocess import clean, keep_top, oks_matrix, suppress_duplicates
from swahr_infer.skeleton import COCO

SIGMAS = COCO.sigmas


def person(x0, y0, size=100.0, score=1.0, found=None):
    rng = np.random.default_rng(int(x0 + 7 * y0))
    kp = np.zeros((17, 3), np.float32)
    kp[:, 0] = x0 + rng.uniform(0, size, 17)
    kp[:, 1] = y0 + rng.uniform(0, size, 17)
    kp[:, 2] = score
    if found is not None:
        kp[~np.asarray(found), 2] = 0
    return kp


def poses_of(*people, scores):
    return Poses(np.stack(people), np.asarray(scores, np.float32))


def test_oks_of_a_person_with_itself_is_one_and_far_people_zero():
    a, b = person(0, 0), person(1000, 1000)
    oks = oks_matrix(np.stack([a, b]), SIGMAS)
    assert oks[0, 0] == pytest.approx(1.0) and oks[1, 1] == pytest.approx(1.0)
    assert oks[0, 1] < 1e-6


def test_oks_counts_only_joints_found_in_both():
    a = person(0, 0)
    b = a.copy()
    b[:8, 2] = 0
    b[8:, :2] += 1000  # the shared found joints are far apart
    oks = oks_matrix(np.stack([a, b]), SIGMAS)
    assert oks[0, 1] < 1e-6
    c = np.zeros_like(a)  # nothing found: similar to no one
    assert oks_matrix(np.stack([a, c]), SIGMAS)[0, 1] == 0


def test_duplicates_are_suppressed_keeping_the_best():
    a = person(0, 0, score=0.5)
    dup = a.copy()
    dup[:, :2] += 1.0
    dup[:, 2] = 0.4
    other = person(400, 0, score=0.3)
    poses = poses_of(dup, other, a, scores=[0.4, 0.3, 0.5])
    kept = suppress_duplicates(poses, 0.9, SIGMAS)
    assert kept.scores.tolist() == pytest.approx([0.5, 0.3])
    np.testing.assert_array_equal(kept.keypoints[0], a)
    assert len(suppress_duplicates(poses, 1.0, SIGMAS)) == 3  # OKS never exceeds 1


def test_score_filter_and_top_n():
    poses = poses_of(person(0, 0), person(200, 0), person(400, 0), scores=[0.2, 0.9, 0.5])
    assert clean(poses, sigmas=SIGMAS).scores.tolist() == pytest.approx([0.2, 0.9, 0.5])
    assert clean(poses, sigmas=SIGMAS, min_score=0.5).scores.tolist() == pytest.approx([0.9, 0.5])
    assert keep_top(poses, 2).scores.tolist() == pytest.approx([0.9, 0.5])
    assert clean(poses, sigmas=SIGMAS, max_people=1).scores.tolist() == pytest.approx([0.9])
    assert len(clean(poses, sigmas=SIGMAS, min_score=0.95)) == 0


def test_keypoint_scales_follow_the_selection():
    poses = poses_of(person(0, 0), person(200, 0), scores=[0.1, 0.9])
    poses.keypoint_scales = np.array([[1.0] * 17, [2.0] * 17], np.float32)
    top = keep_top(poses, 1)
    assert top.keypoint_scales.tolist() == [[2.0] * 17]
