"""The synthetic map renderer: geometry, tags and tie-freeness of its defaults."""

import numpy as np
import pytest

from swahr_infer.synthetic import default_tags, random_people, render_maps


def test_random_people_are_inside_separate_and_anchored():
    kps = random_people(12, (128, 192), seed=4)
    assert kps.shape == (12, 17, 3) and kps.dtype == np.float32
    assert (kps[..., 0] >= 0).all() and (kps[..., 0] < 192).all()
    assert (kps[..., 1] >= 0).all() and (kps[..., 1] < 128).all()
    assert (kps[:, 0, 2] == 1).all()  # joint 0 always visible by default
    boxes = [(p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()) for p in kps]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1]  # no overlap
    assert random_people(3, (64, 64), num_joints=14).shape == (3, 14, 3)
    assert random_people(0, (64, 64)).shape == (0, 17, 3)


def test_render_maps_peaks_and_tags():
    kps = np.zeros((2, 17, 3), np.float32)
    kps[0, 3] = (10.3, 20.7, 1)
    kps[1, 3] = (40.9, 5.2, 1)
    kps[1, 4] = (44.0, 9.0, 0)  # invisible: no peak
    hm, tg = render_maps(kps, (32, 64), amplitudes=np.full((2, 17), 0.8))
    assert hm.shape == (17, 32, 64) and tg.shape == (17, 32, 64, 2)
    assert np.unravel_index(np.argmax(hm[3, :, :30]), (32, 30)) == (20, 10)  # pixel int(y), int(x)
    assert np.unravel_index(np.argmax(hm[3, :, 30:]), (32, 34)) == (5, 10)
    assert hm[4].max() == 0
    np.testing.assert_array_equal(tg[3, 20, 10], default_tags(2)[0])
    np.testing.assert_array_equal(tg[4, 9, 44], default_tags(2)[1])  # owner of an invisible joint


def test_default_tags_are_far_apart_and_amplitudes_tie_free():
    tags = default_tags(30, 2)
    d = np.linalg.norm(tags[:, None] - tags[None], axis=2) + np.eye(30) * 99
    assert d.min() >= 3
    kps = random_people(10, (96, 128), seed=1)
    hm, _ = render_maps(kps, (96, 128), seed=1)
    peaks = [hm[j, int(y), int(x)] for p in kps for j, (x, y, v) in enumerate(p) if v > 0]
    assert len(set(peaks)) == len(peaks)


def test_render_maps_rejects_bad_keypoints():
    with pytest.raises(ValueError):
        render_maps(np.zeros((2, 17)), (8, 8))
