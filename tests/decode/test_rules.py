"""One test per decoding rule of SPEC.md that is easy to get wrong, on hand-made maps."""

import numpy as np
import pytest

from swahr_infer.decode import (
    DecodeParams, decode, find_candidates, group_poses, grouping_order,
)
from swahr_infer.decode.nms import threshold_f32
from swahr_infer.errors import OutputError
from swahr_infer.metadata import DecodeDefaults
from swahr_infer.skeleton import COCO

K, H, W = 17, 40, 48


def blank(t_dim: int = 2):
    return np.zeros((K, H, W), np.float32), np.zeros((K, H, W, t_dim), np.float32)


def put_peak(hm, tg, j, x, y, value, tag, spread=True):
    """A 3x3 peak (centre ``value``, neighbours half of it) with ``tag`` under it."""
    if spread:
        y0, y1, x0, x1 = max(y - 1, 0), min(y + 2, H), max(x - 1, 0), min(x + 2, W)
        hm[j, y0:y1, x0:x1] = np.maximum(hm[j, y0:y1, x0:x1], value / 2)
        tg[j, y0:y1, x0:x1] = tag
    hm[j, y, x] = value
    tg[j, y, x] = tag


def no_refine(**kw):
    return DecodeParams(refine=False, **kw)


def test_grouping_order_is_the_official_one():
    assert grouping_order(17) == (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16)
    assert grouping_order(14) == (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13)
    # the official order has no answer for 11 joints: its valid entries, then the rest
    assert grouping_order(11) == (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)


def test_persons_open_in_grouping_order_hips_before_elbows():
    hm, tg = blank()
    put_peak(hm, tg, 7, 10, 10, 0.9, (0.0, 0.0))  # left elbow of person A
    put_peak(hm, tg, 11, 30, 30, 0.8, (6.0, 6.0))  # left hip of person B
    persons, _ = group_poses(hm, tg, no_refine())
    assert persons.shape == (2, K, 5)
    # joint 11 is processed before joint 7, so B (hip) is the first person
    assert persons[0, 11, 2] == np.float32(0.8) and persons[0, 7, 2] == 0
    assert persons[1, 7, 2] == np.float32(0.9) and persons[1, 11, 2] == 0


@pytest.mark.parametrize("left,right,dx", [(0.2, 0.3, 0.25), (0.3, 0.2, -0.25), (0.3, 0.3, -0.25)])
def test_quarter_offset_towards_the_larger_neighbour_then_half(left, right, dx):
    hm, tg = blank()
    hm[0, 20, 24] = 0.9
    hm[0, 20, 23], hm[0, 20, 25] = left, right
    hm[0, 19, 24], hm[0, 21, 24] = 0.4, 0.1  # up larger: y moves up
    persons, _ = group_poses(hm, tg, no_refine())
    assert persons[0, 0, 0] == 24 + 0.5 + dx
    assert persons[0, 0, 1] == 20 + 0.5 - 0.25


def test_quarter_offset_clamps_at_the_border():
    hm, tg = blank()
    hm[0, 0, 0] = 0.9  # at the origin: both comparisons use the pixel itself -> -0.25
    hm[0, 0, 1] = 0.5
    hm[1, H - 1, W - 1] = 0.9  # far corner: right/down are the pixel itself (0.9 > neighbour)
    hm[1, H - 1, W - 2] = 0.5
    hm[1, H - 2, W - 1] = 0.5
    tg[1] = 5.0
    persons, _ = group_poses(hm, tg, no_refine())
    nose = persons[persons[:, 0, 2] > 0][0, 0]
    eye = persons[persons[:, 1, 2] > 0][0, 1]
    assert (nose[0], nose[1]) == (0.25, 0.25)
    assert (eye[0], eye[1]) == (W - 1 + 0.75, H - 1 + 0.75)


def test_adjust_off_keeps_integer_positions():
    hm, tg = blank()
    put_peak(hm, tg, 0, 12, 9, 0.9, (0.0, 0.0))
    persons, _ = group_poses(hm, tg, no_refine(adjust=False))
    assert (persons[0, 0, 0], persons[0, 0, 1]) == (12.0, 9.0)


def test_score_is_the_mean_over_all_joints_taken_before_refine():
    hm, tg = blank()
    put_peak(hm, tg, 0, 10, 10, 0.9, (1.0, 1.0))
    put_peak(hm, tg, 1, 12, 10, 0.7, (1.0, 1.0))
    put_peak(hm, tg, 2, 30, 25, 0.05, (1.0, 1.0))  # below threshold: found by refine only
    persons, scores = group_poses(hm, tg)
    assert len(persons) == 1
    assert persons[0, 2, 2] == np.float32(0.05)  # refine filled it ...
    # ... but the score counts only what grouping found, over all 17 joints
    assert scores[0] == np.float32(np.array([0.9, 0.7] + [0] * 15, np.float32).mean())


def test_refine_fills_a_missing_joint_at_the_best_tag_matching_pixel():
    hm, tg = blank()
    put_peak(hm, tg, 0, 10, 10, 0.9, (1.0, 1.0))
    put_peak(hm, tg, 5, 10, 30, 0.08, (1.0, 1.0), spread=False)  # weak, right tag
    hm[5, 30, 11] = 0.05  # right neighbour larger than the left one (0): x + 0.75
    put_peak(hm, tg, 5, 40, 5, 0.09, (9.0, 9.0), spread=False)  # stronger but another tag
    persons, _ = group_poses(hm, tg)
    assert len(persons) == 1
    x, y, v = persons[0, 5, :3]
    assert (x, y, v) == (10.75, 30.25, np.float32(0.08))


def test_refine_does_not_fill_when_the_heatmap_is_not_positive_there():
    hm, tg = blank()
    put_peak(hm, tg, 0, 10, 10, 0.9, (1.0, 1.0))
    hm[3] = -0.01  # everywhere negative: argmax lands on a non-positive value
    persons, _ = group_poses(hm, tg)
    assert persons[0, 3, 2] == 0 and persons[0, 3, 0] == 0


def test_refine_off_leaves_missing_joints_empty():
    hm, tg = blank()
    put_peak(hm, tg, 0, 10, 10, 0.9, (1.0, 1.0))
    put_peak(hm, tg, 5, 10, 30, 0.08, (1.0, 1.0))
    persons, _ = group_poses(hm, tg, no_refine())
    assert persons[0, 5, 2] == 0


def test_nms_window_and_border_handling():
    hm, tg = blank()
    hm[0, 0, 0] = 0.5  # corner peak: the -inf padding never wins
    hm[0, 10, 10] = 0.6
    hm[0, 10, 12] = 0.55  # 2 px from a larger value: suppressed by the 5x5 window
    hm[0, 10, 20] = 0.6
    hm[0, 10, 23] = 0.55  # 3 px away: a peak of its own
    hm[0, 30, 30] = hm[0, 30, 31] = 0.7  # plateau: both equal the window max, both kept
    hm[0, 0, 47] = 0.4
    hm[0, 1, 46] = 0.45  # border pixel next to a larger interior one: suppressed
    cand = find_candidates(hm, tg, threshold=0.1, k=30, kernel=5)
    xy, vals, _ = cand.joint(0)
    got = {(int(x), int(y)) for x, y in xy}
    assert got == {(0, 0), (10, 10), (20, 10), (23, 10), (30, 30), (31, 30), (46, 1)}
    # value descending; equal values by flat index ascending
    assert list(vals) == sorted(vals, reverse=True)
    assert [tuple(p) for p in xy[:2]] == [(30, 30), (31, 30)]
    cand3 = find_candidates(hm, tg, threshold=0.1, k=30, kernel=3)
    assert (12, 10) in {(int(x), int(y)) for x, y in cand3.joint(0)[0]}


def test_top_k_keeps_the_largest_max_num_people_candidates():
    hm, tg = blank()
    for i, v in enumerate([0.3, 0.9, 0.5, 0.7]):
        put_peak(hm, tg, 0, 5 + 10 * i, 5, v, (3.0 * i, 0.0))
    persons, _ = group_poses(hm, tg, no_refine(max_num_people=2))
    assert persons[:, 0, 2].tolist() == pytest.approx([0.9, 0.7])


def test_threshold_is_compared_in_float64_like_the_official_code():
    hm, tg = blank()
    hm[0, 5, 5] = np.float32(0.1)  # float32(0.1) = 0.10000000149 > 0.1
    hm[1, 5, 5] = np.nextafter(np.float32(0.1), np.float32(0))  # 0.0999999940 < 0.1
    persons, _ = group_poses(hm, tg, no_refine(detection_threshold=0.1))
    assert len(persons) == 1 and persons[0, 0, 2] > 0 and persons[0, 1, 2] == 0
    assert threshold_f32(0.1) < np.float32(0.1)
    assert threshold_f32(0.5) == np.float32(0.5)


def test_only_the_first_max_num_people_persons_take_part_and_keys_merge():
    """Person C opens at joint 1 as the third person; with a window of 2 its joint 2 cannot
    match it, so it opens a person keyed by its first tag component - which merges into C's
    row when the key is equal (official quirk) and makes a new person when it is not."""
    def maps(c_tag_at_joint2):
        hm, tg = blank()
        put_peak(hm, tg, 0, 5, 5, 0.9, (0.0, 0.0))  # A
        put_peak(hm, tg, 0, 25, 5, 0.8, (5.0, 5.0))  # B
        put_peak(hm, tg, 1, 7, 5, 0.9, (0.0, 0.0))  # A
        put_peak(hm, tg, 1, 40, 30, 0.85, (10.0, 10.0))  # C opens
        put_peak(hm, tg, 2, 27, 5, 0.9, (5.0, 5.0))  # B
        put_peak(hm, tg, 2, 42, 30, 0.8, c_tag_at_joint2)  # C again
        return hm, tg

    persons, _ = group_poses(*maps((10.0, 10.0)), no_refine(max_num_people=2))
    assert len(persons) == 3
    assert persons[2, 1, 2] > 0 and persons[2, 2, 2] > 0  # merged into C by the equal key
    persons, _ = group_poses(*maps((10.001, 10.0)), no_refine(max_num_people=2))
    assert len(persons) == 4  # a new key: a fourth person holding only joint 2
    assert persons[3, 2, 2] > 0 and (persons[3, :, 2] > 0).sum() == 1
    persons, _ = group_poses(*maps((10.001, 10.0)), no_refine(max_num_people=3))
    assert len(persons) == 3  # with a window of 3, C's joint 2 matches C


def test_equal_first_tag_component_merges_at_the_first_joint():
    hm, tg = blank()
    put_peak(hm, tg, 0, 5, 5, 0.9, (2.0, 0.0))
    put_peak(hm, tg, 0, 30, 30, 0.8, (2.0, 7.0))  # same tag[0], very different tag[1]
    persons, _ = group_poses(hm, tg, no_refine())
    assert len(persons) == 1
    assert persons[0, 0, 2] == np.float32(0.8)  # the later candidate overwrote the joint


def test_tag_threshold_decides_joining():
    hm, tg = blank()
    put_peak(hm, tg, 0, 5, 5, 0.9, (0.0, 0.0))
    put_peak(hm, tg, 1, 7, 5, 0.9, (0.6, 0.6))  # distance 0.85
    assert len(group_poses(hm, tg, no_refine(tag_threshold=1.0))[0]) == 1
    assert len(group_poses(hm, tg, no_refine(tag_threshold=0.8))[0]) == 2


def test_affine_maps_every_joint_row_including_missing_ones():
    hm, tg = blank()
    put_peak(hm, tg, 0, 10, 12, 0.9, (0.0, 0.0))
    affine = np.array([[2.0, 0.0, 100.0], [0.0, 3.0, -50.0]])
    persons, scores = group_poses(hm, tg, no_refine())
    poses = decode(hm, tg, affine, refine=False)
    x, y = persons[0, 0, 0], persons[0, 0, 1]
    assert tuple(poses.keypoints[0, 0]) == (2 * x + 100, 3 * y - 50, np.float32(0.9))
    assert tuple(poses.keypoints[0, 1]) == (100.0, -50.0, 0.0)  # missing: the origin's image
    assert poses.scores.tolist() == scores.tolist()
    assert poses.joint_names == COCO.joint_names and poses.skeleton == COCO.skeleton


def test_single_tag_dimension_as_3d_tags():
    hm, tg = blank(t_dim=1)
    put_peak(hm, tg, 0, 10, 10, 0.9, (4.0,))
    put_peak(hm, tg, 1, 12, 10, 0.9, (4.2,))
    poses = decode(hm, tg[..., 0])
    persons, _ = group_poses(hm, tg[..., 0])
    assert len(poses) == 1 and persons.shape == (1, K, 4)


def test_no_people():
    hm, tg = blank()
    poses = decode(hm, tg)
    assert len(poses) == 0 and poses.keypoints.shape == (0, K, 3)


def test_params_defaults_overrides_and_validation():
    assert DecodeParams() == DecodeParams.from_defaults(DecodeDefaults())
    assert DecodeParams.from_defaults(DecodeDefaults(detection_threshold=0.12),
                                      refine=False) == DecodeParams(0.12, refine=False)
    with pytest.raises(ValueError):
        DecodeParams(detection_threshold=-0.1)
    with pytest.raises(ValueError):
        DecodeParams(nms_kernel=4)
    with pytest.raises(ValueError):
        DecodeParams(max_num_people=0)
    with pytest.raises(ValueError, match="scipy, munkres"):
        DecodeParams(assignment="hungarian")
    assert DecodeParams.from_defaults(DecodeDefaults(), assignment="munkres").assignment == "munkres"
    hm, tg = blank()
    with pytest.raises(TypeError):
        decode(hm, tg, not_a_param=1)


@pytest.mark.parametrize("bad", ["nan_hm", "inf_hm", "inf_tag", "rank", "tag_shape", "k_names", "empty"])
def test_invalid_maps_raise_output_error(bad):
    hm, tg = blank()
    names = None
    if bad == "nan_hm":
        hm[3, 4, 5] = np.nan
    elif bad == "inf_hm":
        hm[0, -1, -1] = np.inf
    elif bad == "inf_tag":
        tg[2, 1, 1, 0] = -np.inf
    elif bad == "rank":
        hm = hm[None]
    elif bad == "tag_shape":
        tg = tg[:, :, :-1]
    elif bad == "k_names":
        names = COCO.joint_names[:14]
    elif bad == "empty":
        hm, tg = hm[:, :0], tg[:, :0]
    with pytest.raises(OutputError) as err:
        decode(hm, tg, joint_names=names)
    assert str(err.value)
    if bad in ("nan_hm", "inf_hm", "inf_tag"):  # the report counts and locates the bad value
        assert "1 non-finite values" in str(err.value)


def test_non_finite_check_can_be_skipped_for_checked_maps():
    hm, tg = blank()
    tg[2, 1, 1, 0] = np.nan  # a tag nobody reads
    assert len(decode(hm, tg, check_finite=False)) == 0


def test_munkres_assignment_without_the_package_names_the_install(monkeypatch):
    import builtins

    from swahr_infer.errors import MissingDependencyError

    real_import = builtins.__import__

    def no_munkres(name, *args, **kwargs):
        if name == "munkres":
            raise ImportError("No module named 'munkres'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_munkres)
    hm, tg = blank()
    put_peak(hm, tg, 0, 10, 10, 0.9, (0.0, 0.0))
    group_poses(hm, tg, DecodeParams())  # scipy needs nothing more
    with pytest.raises(MissingDependencyError, match="pip install munkres"):
        group_poses(hm, tg, DecodeParams(assignment="munkres"))
