"""The fast decoder against the slow literal reference (tests/decode/reference.py).

Both use the same assignment solver (scipy's, or with ``assignment="munkres"`` the munkres
package's) on bit-identical cost matrices, so they must agree exactly even on inputs with
assignment ties (orphan candidates, crowds beyond the 30-person window); inputs here
are varied on purpose: map sizes that are not multiples of the tile, T = 1, 2, 3, noise-free
maps (plateaus and equal objective values everywhere), pure noise, other NMS kernels and
thresholds, adjust / refine off.
"""

import numpy as np
import pytest

from swahr_infer.decode import DecodeParams, decode, group_poses
from swahr_infer.synthetic import random_people, render_maps

from .reference import reference_parse, reference_to_image


def _case(seed: int):
    rng = np.random.default_rng(seed)
    h = int(rng.integers(40, 140))
    w = int(rng.integers(40, 180))
    n = int(rng.integers(0, 14))
    t_dim = int(rng.choice([1, 2, 2, 3]))
    kps = random_people(n, (h, w), seed=seed, anchor=bool(rng.random() < 0.5),
                        visible_prob=float(rng.uniform(0.5, 1.0)))
    sig = rng.uniform(1.0, 3.5, n)
    noise = float(rng.choice([0.0, 0.005, 0.02]))
    tag_noise = float(rng.choice([0.0, 0.05, 0.3]))
    hm, tg = render_maps(kps, (h, w), sigma=sig, num_tag_dims=t_dim, noise=noise,
                         tag_noise=tag_noise, seed=seed)
    params = dict(
        detection_threshold=float(rng.choice([0.1, 0.12, 0.3])),
        tag_threshold=float(rng.choice([1.0, 1.0, 2.5])),
        max_num_people=int(rng.choice([30, 30, 5])),
        nms_kernel=int(rng.choice([5, 5, 3, 7])),
        adjust=bool(rng.random() < 0.85),
        refine=bool(rng.random() < 0.85),
    )
    return hm, tg, params


def _assert_same(hm, tg, params):
    ours, our_scores = group_poses(hm, tg, DecodeParams(**params))
    ref, ref_scores = reference_parse(hm, tg, **params)
    assert ours.shape == ref.shape
    np.testing.assert_array_equal(ours, ref)
    np.testing.assert_array_equal(our_scores, ref_scores)


@pytest.mark.parametrize("seed", range(40))
def test_matches_reference_on_varied_synthetic_maps(seed):
    _assert_same(*_case(seed))


@pytest.mark.parametrize("assignment", ["scipy", "munkres"])
@pytest.mark.parametrize("seed", range(4))
def test_matches_reference_on_pure_noise(seed, assignment):
    """Random heatmaps and tags: many peaks, fragments, merges, ties everywhere."""
    rng = np.random.default_rng(100 + seed)
    k, h, w = 17, int(rng.integers(16, 40)), int(rng.integers(16, 48))
    hm = rng.uniform(-0.05, 0.3, (k, h, w)).astype(np.float32)
    tg = (rng.normal(0, 1.5, (k, h, w, 2))).astype(np.float32)
    _assert_same(hm, tg, dict(detection_threshold=0.2, assignment=assignment))


def test_the_solvers_break_ties_differently_and_agree_without_ties():
    """Noise maps whose 30 "people" have tags within a unit of each other tie the rounded costs:
    there scipy and munkres pick different (equally cheap) assignments, each exactly as the
    reference does with the same solver; on tie-free synthetic people they agree."""
    rng = np.random.default_rng(0)
    hm = rng.permutation(17 * 48 * 64).astype(np.float32).reshape(17, 48, 64) * np.float32(3e-6)
    tg = rng.standard_normal((17, 48, 64, 1)).astype(np.float32) * np.float32(0.4)
    by_solver = {}
    for assignment in ("scipy", "munkres"):
        params = dict(detection_threshold=0.1, assignment=assignment)
        _assert_same(hm, tg, params)
        by_solver[assignment] = group_poses(hm, tg, DecodeParams(**params))[0]
    assert len(by_solver["scipy"]) >= 25
    assert (by_solver["scipy"].shape != by_solver["munkres"].shape
            or not np.array_equal(by_solver["scipy"], by_solver["munkres"]))
    kps = random_people(6, (96, 128), seed=3)
    hm, tg = render_maps(kps, (96, 128), sigma=2.0, num_tag_dims=2, noise=0.01, tag_noise=0.05,
                         seed=3)
    scipy_p, munkres_p = (group_poses(hm, tg, DecodeParams(assignment=a)) for a in ("scipy", "munkres"))
    np.testing.assert_array_equal(scipy_p[0], munkres_p[0])
    np.testing.assert_array_equal(scipy_p[1], munkres_p[1])


def test_matches_reference_on_quantised_maps():
    """Heatmaps and tags on a coarse grid: exact ties in peaks, costs and refine objectives."""
    kps = random_people(8, (64, 96), seed=7, anchor=False)
    hm, tg = render_maps(kps, (64, 96), noise=0.03, tag_noise=0.4, seed=7)
    hm = np.round(hm * 8) / 8
    tg = np.round(tg * 2) / 2
    _assert_same(hm.astype(np.float32), tg.astype(np.float32), dict(detection_threshold=0.1))
    flat = np.zeros_like(hm)  # no candidates at all
    _assert_same(flat, tg, dict(detection_threshold=0.1))


def test_matches_reference_beyond_the_person_window():
    """More people than max_num_people: orphans, the key-merge quirk, top-k truncation."""
    kps = random_people(14, (96, 128), seed=3, anchor=False, visible_prob=0.7)
    hm, tg = render_maps(kps, (96, 128), sigma=1.0, noise=0.01, tag_noise=0.02, seed=3)
    _assert_same(hm, tg, dict(max_num_people=10))
    hm, tg = render_maps(kps, (96, 128), sigma=1.0, seed=3)  # exact tags: keys merge
    _assert_same(hm, tg, dict(max_num_people=10))


def test_decode_applies_the_affine_like_the_reference():
    hm, tg, params = _case(11)
    affine = np.array([[2.5, 0.0, -3.25], [0.0, 2.5, 7.5]])
    poses = decode(hm, tg, affine, **params)
    ref, ref_scores = reference_parse(hm, tg, **params)
    np.testing.assert_allclose(poses.keypoints, reference_to_image(ref, affine), atol=1e-3, rtol=0)
    np.testing.assert_array_equal(poses.scores, ref_scores)
