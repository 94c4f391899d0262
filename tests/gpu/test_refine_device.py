"""Device refine: the argmax kernel against numpy, refine_people_device against refine_people."""

import numpy as np
import pytest

from swahr_infer.decode import adjust_joints, find_candidates, group_candidates, grouping_order
from swahr_infer.decode import refine_people
from swahr_infer.decode.refine import _shifts
from swahr_infer.gpu.refine import refine_people_device, tag_argmax_device

from .maps import noise_maps, objective, people_maps, tied_maps

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("maker", [noise_maps, tied_maps])
@pytest.mark.parametrize("t", [1, 2])
def test_argmax_matches_numpy_first_maximum(cp, maker, t):
    hm, tags = maker(17, 67, 131, t=t, seed=t)
    rng = np.random.default_rng(t)
    joints = rng.integers(0, 17, 200)
    means = np.round(rng.normal(0, 2, (200, t))).astype(np.float32)  # ties on tied maps
    got = tag_argmax_device(cp.asarray(hm), cp.asarray(tags), joints, means).get()
    for q, (j, m) in enumerate(zip(joints, means)):
        score = objective(hm, tags, j, m)
        flat = int(np.argmax(score))
        y, x = divmod(flat, hm.shape[2])
        dx, dy = _shifts(hm, np.array([j]), np.array([y]), np.array([x]))
        assert (got[q, 0], got[q, 1]) == (x, y), f"query {q}"
        assert got[q, 2] == hm[j, y, x] and got[q, 5] == score[flat]
        assert (got[q, 3], got[q, 4]) == (dx[0], dy[0])


def test_negative_zero_ties_with_zero(cp):
    hm = np.zeros((1, 4, 4), np.float32)
    hm[0, 0, 1] = -0.0  # objective -0.0 at flat 1, +0.0 at flat 0 and elsewhere
    hm[0, 0, 0] = 0.0
    tags = np.zeros((1, 4, 4, 2), np.float32)
    got = tag_argmax_device(cp.asarray(hm), cp.asarray(tags), np.array([0]),
                            np.zeros((1, 2), np.float32)).get()
    assert (got[0, 0], got[0, 1]) == (0, 0)


@pytest.mark.parametrize("maker", ["people", "tied"])
def test_refine_people_device_matches_cpu(cp, maker):
    hm, tags = people_maps(8, 128, 160, seed=4) if maker == "people" else tied_maps(17, 48, 64)
    cand = find_candidates(hm, tags, threshold=0.1)
    persons = adjust_joints(group_candidates(cand, grouping_order(17), detection_threshold=0.1,
                                             tag_threshold=1.0, max_num_people=30), hm)
    if maker == "people":
        persons[::2, 3:10, :] = 0  # missing joints for refine to fill
    got = refine_people_device(persons, cp.asarray(hm), cp.asarray(tags))
    np.testing.assert_array_equal(got, refine_people(persons, hm, tags))
