"""The NMS / top-k kernels against the CPU decoder's find_candidates: identical candidates."""

import numpy as np
import pytest

from swahr_infer.decode import find_candidates
from swahr_infer.decode.nms import threshold_f32
from swahr_infer.decode.refine import _shifts
from swahr_infer.gpu.nms import find_candidates_device

from .maps import border_maps, noise_maps, people_maps, tied_maps

pytestmark = pytest.mark.gpu


def _check(cp, hm, tags, threshold, k=30, kernel=5):
    expected = find_candidates(hm, tags, threshold=threshold, k=k, kernel=kernel)
    got = find_candidates_device(cp.asarray(hm), cp.asarray(tags), threshold=threshold, k=k,
                                 kernel_size=kernel)
    cand, shifts = got.to_host()
    np.testing.assert_array_equal(cand.counts, expected.counts)
    np.testing.assert_array_equal(cand.xy, expected.xy)
    np.testing.assert_array_equal(cand.values, expected.values)
    np.testing.assert_array_equal(cand.tags, expected.tags)
    for j in range(hm.shape[0]):
        n = int(expected.counts[j])
        xs, ys = expected.xy[j, :n, 0], expected.xy[j, :n, 1]
        dx, dy = _shifts(hm, np.full(n, j), ys, xs)
        np.testing.assert_array_equal(shifts[j, :n, 0], dx)
        np.testing.assert_array_equal(shifts[j, :n, 1], dy)
        assert not shifts[j, n:].any()
    return expected


@pytest.mark.parametrize("shape", [(512, 768), (37, 53), (1, 4097), (4099, 3)])
def test_noise_maps(cp, shape):
    hm, tags = noise_maps(17, *shape, seed=shape[0])
    expected = _check(cp, hm, tags, threshold=0.1)
    assert (expected.counts == 30).all()  # more peaks than k everywhere: truncation


@pytest.mark.parametrize("k", [100, 300])
def test_long_candidate_lists(cp, k):
    # 192 tiles x ~80 noise peaks: each tile keeps min(n, k), so the joint's list holds more
    # keys than the second launch sorts in shared memory (4096) and it takes its other path
    hm, tags = noise_maps(17, 512, 768, seed=k)
    expected = _check(cp, hm, tags, threshold=0.1, k=k)
    assert (expected.counts == k).all()


@pytest.mark.parametrize("k", [1, 30, 100])
@pytest.mark.parametrize("kernel", [1, 3, 5, 7])
def test_ties_and_plateaus(cp, k, kernel):
    hm, tags = tied_maps(17, 130, 90, seed=k + kernel)
    _check(cp, hm, tags, threshold=0.1, k=k, kernel=kernel)


def test_borders(cp):
    _check(cp, *border_maps(17, 31, 45), threshold=0.1)


@pytest.mark.parametrize("t", [1, 2])
def test_people(cp, t):
    hm, tags = people_maps(12, 256, 384, t=t, noise=0.01)
    expected = _check(cp, hm, tags, threshold=0.12)
    assert 0 < expected.counts.max() <= 30


def test_threshold_is_strict_and_in_float64(cp):
    hm = np.zeros((2, 20, 20), np.float32)
    hm[0, 5, 5] = np.float32(0.1)  # float32(0.1) > 0.1: a candidate
    hm[1, 5, 5] = threshold_f32(0.1)  # the largest float32 not above 0.1: not one
    tags = np.zeros((2, 20, 20, 2), np.float32)
    expected = _check(cp, hm, tags, threshold=0.1)
    assert list(expected.counts) == [1, 0]


def test_nothing_above_threshold(cp):
    hm, tags = noise_maps(17, 64, 64)
    expected = _check(cp, hm * 0.05, tags, threshold=0.1)
    assert not expected.counts.any()
