"""Maps rendered from ground-truth people decode back to those people."""

import numpy as np
import pytest

from swahr_infer.decode import decode
from swahr_infer.synthetic import random_people, render_maps


def match(poses, kps):
    """Index of the decoded person for each ground-truth person (by its joint 0)."""
    order = []
    for person in kps:
        d = np.linalg.norm(poses.keypoints[:, 0, :2] - person[0, :2], axis=1)
        order.append(int(np.argmin(d)))
    return order


@pytest.mark.parametrize("seed,n,shape,noise,t_dim", [
    (0, 1, (64, 96), 0.0, 2), (1, 6, (128, 192), 0.01, 2), (2, 12, (160, 224), 0.02, 1),
    (3, 20, (192, 256), 0.01, 2),
])
def test_people_come_back(seed, n, shape, noise, t_dim):
    kps = random_people(n, shape, seed=seed)
    sigma = np.random.default_rng(seed).uniform(1.5, 3.0, n)  # people of different scales
    hm, tg = render_maps(kps, shape, sigma=sigma, num_tag_dims=t_dim, noise=noise,
                         tag_noise=0.05, seed=seed)
    poses = decode(hm, tg)
    assert len(poses) == n
    order = match(poses, kps)
    assert sorted(order) == list(range(n))
    for person, i in zip(kps, order):
        got = poses.keypoints[i]
        vis = person[:, 2] > 0
        assert (got[vis, 2] > 0.5).all()
        # clean maps: the decoder's +0.5 / +-0.25 lands within 0.75 px of the truth; noise can
        # flip the quarter step or move a peak sitting on a pixel edge to the next pixel
        tol = 0.76 if noise == 0 else 1.26
        assert np.abs(got[vis, :2] - person[vis, :2]).max() <= tol


def test_refine_recovers_weak_invisible_joints():
    kps = random_people(5, (128, 192), seed=9, visible_prob=0.6)
    hidden = kps[..., 2] == 0
    weak = kps.copy()
    weak[..., 2] = 1  # render every joint, the hidden ones below the detection threshold
    amp = np.where(hidden, 0.06, 0.9)
    hm, tg = render_maps(weak, (128, 192), amplitudes=amp, tag_noise=0.05, seed=9)
    poses = decode(hm, tg)
    assert len(poses) == 5
    for person, i in zip(kps, match(poses, kps)):
        got = poses.keypoints[i]
        assert np.abs(got[:, :2] - person[:, :2]).max() <= 0.76  # hidden ones refined in place
        v = got[person[:, 2] == 0, 2]
        assert ((v > 0.05) & (v <= np.float32(0.06))).all()  # the weak peaks, found by refine


def test_image_coordinates_through_the_affine():
    kps = random_people(4, (96, 128), seed=5)
    hm, tg = render_maps(kps, (96, 128), seed=5)
    affine = np.array([[4.0, 0.0, -2.0], [0.0, 4.0, -2.0]])  # stride 4, pixel-centre shift
    poses = decode(hm, tg, affine)
    for person, i in zip(kps, match(decode(hm, tg), kps)):
        vis = person[:, 2] > 0
        want = person[vis, :2] * 4 - 2
        assert np.abs(poses.keypoints[i, vis, :2] - want).max() <= 4 * 0.76
