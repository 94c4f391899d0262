"""Opt-in: our decoder against the official SWAHR parser on the same maps.

Skipped unless ``SWAHR_OFFICIAL_REPO`` points to a checkout of greatlog/SWAHR-HumanPose (its
lib/core/group.py and lib/utils/transforms.py are loaded by path; torch and munkres needed):

    SWAHR_OFFICIAL_REPO=/path/to/SWAHR-HumanPose python -m pytest tests/decode/test_official_parity.py

Inputs are anchored synthetic people with well separated tags, which keeps the assignment free
of cost ties (SPEC.md "Ties"), so the poses must be identical: same persons in the same order,
keypoints within 1e-3 px, the same values and scores.
"""

import types

import numpy as np
import pytest

from swahr_infer.affine import box_affine
from swahr_infer.decode import DecodeParams, decode, group_poses
from swahr_infer.preprocess import scale_geometry
from swahr_infer.synthetic import random_people, render_maps
from tests.official_code import load_official, requires_official

pytestmark = requires_official



@pytest.fixture(scope="module")
def official():
    torch = pytest.importorskip("torch")
    pytest.importorskip("munkres")
    torch.set_num_threads(1)
    group = load_official("lib/core/group.py", "swahr_official_group")
    transforms = load_official("lib/utils/transforms.py", "swahr_official_transforms")
    return torch, group.HeatmapParser, transforms.get_final_preds


def _parser(official, params, num_joints=17):
    ns = types.SimpleNamespace
    cfg = ns(
        DATASET=ns(NUM_JOINTS=num_joints, MAX_NUM_PEOPLE=params.max_num_people, WITH_CENTER=False),
        MODEL=ns(TAG_PER_JOINT=True),
        TEST=ns(DETECTION_THRESHOLD=params.detection_threshold,
                TAG_THRESHOLD=params.tag_threshold, USE_DETECTION_VAL=params.use_detection_val,
                IGNORE_TOO_MUCH=False, IGNORE_CENTER=True, NMS_KERNEL=params.nms_kernel,
                NMS_PADDING=params.nms_kernel // 2),
    )
    return official[1](cfg)


CASES = [  # seed, people, (H, W), T, joints, detection threshold
    (0, 1, (128, 192), 2, 17, 0.1), (1, 5, (128, 192), 2, 17, 0.12), (2, 12, (128, 192), 1, 17, 0.1),
    (3, 8, (128, 128), 2, 14, 0.1), (4, 30, (192, 256), 2, 17, 0.1),
]


@pytest.mark.slow
@pytest.mark.parametrize("seed,people,shape,t_dim,joints,threshold", CASES)
def test_identical_to_the_official_parser(official, seed, people, shape, t_dim, joints, threshold):
    torch, _, get_final_preds = official
    params = DecodeParams(detection_threshold=threshold)
    kps = random_people(people, shape, num_joints=joints, seed=seed)
    hm, tg = render_maps(kps, shape, sigma=np.random.default_rng(seed).uniform(1.5, 3, people),
                         num_tag_dims=t_dim, noise=0.01, tag_noise=0.05, seed=seed)
    parser = _parser(official, params, joints)
    grouped, scores = parser.parse(torch.from_numpy(hm)[None], torch.from_numpy(tg)[None],
                                   True, True)
    theirs = np.array(grouped[0], np.float32).reshape(-1, joints, 3 + t_dim)
    ours, our_scores = group_poses(hm, tg, params)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours[..., :2], theirs[..., :2], atol=1e-3, rtol=0)
    np.testing.assert_array_equal(ours[..., 2], theirs[..., 2])
    np.testing.assert_array_equal(our_scores, np.array(scores, np.float32))

    # final coordinates: the runtime's affine against get_final_preds
    geo = scale_geometry((shape[0] * 2, shape[1] * 2), shape[0], 1.0, 1.0)
    final = get_final_preds(grouped, np.array(geo.center), np.array(geo.box_scale),
                            [shape[1], shape[0]])
    poses = decode(hm, tg, box_affine(geo.center, geo.box_scale, geo.size, inverse=True),
                   params=params)
    want = np.array([f[:, :3] for f in final], np.float32).reshape(-1, joints, 3)
    np.testing.assert_allclose(poses.keypoints, want, atol=1e-3, rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("seed,t_dim", [(0, 1), (1, 2)])
def test_munkres_assignment_is_identical_even_with_ties(official, seed, t_dim):
    """Noise maps (what random weights give): 30 "people" whose tags lie within a unit of each
    other, so the rounded matching costs tie all the time.  With ``assignment="munkres"`` the
    decoder still returns the official parser's persons exactly (same munkres package), where
    scipy's solver picks other, equally cheap assignments.  The heatmap values are all
    distinct: equal values order by flat index in our top-k, by whatever torch.topk does in the
    official one (not specified, and not ours on CPU), a tie of another kind."""
    torch = official[0]
    params = DecodeParams(assignment="munkres")
    rng = np.random.default_rng(seed)
    size = 17 * 96 * 128
    hm = (rng.permutation(size).astype(np.float32) * np.float32(0.3 / size)).reshape(17, 96, 128)
    assert len(np.unique(hm)) == size
    tg = rng.standard_normal((17, 96, 128, t_dim)).astype(np.float32) * 0.4
    grouped, scores = _parser(official, params).parse(torch.from_numpy(hm)[None],
                                                      torch.from_numpy(tg)[None], True, True)
    theirs = np.array(grouped[0], np.float32).reshape(-1, 17, 3 + t_dim)
    ours, our_scores = group_poses(hm, tg, params)
    assert len(theirs) >= 30
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(our_scores, np.array(scores, np.float32))
    scipy_persons, _ = group_poses(hm, tg, DecodeParams())
    assert scipy_persons.shape != theirs.shape or not np.array_equal(scipy_persons, theirs)
