"""The timing helpers of swahr_infer.benchmark on known inputs (nothing here is timed)."""

import math

import numpy as np
import pytest

from swahr_infer.benchmark import (STAGES, Summary, format_table, images_per_second,
                                   pose_agreement, summarize, synthetic_image, time_calls,
                                   traced_peak_mb, write_json)


def test_summarize_even_count():
    s = summarize([4.0, 1.0, 3.0, 2.0])
    assert (s.n, s.median, s.mean, s.min, s.max) == (4, 2.5, 2.5, 1.0, 4.0)
    # linear interpolation: rank 0.9 * (n - 1) = 2.7 -> 3 + 0.7 * (4 - 3)
    assert s.p90 == pytest.approx(3.7)


def test_summarize_one_to_ten_and_single_value():
    s = summarize(range(1, 11))
    assert s.median == 5.5
    assert s.p90 == pytest.approx(9.1)
    one = summarize([7.25])
    assert (one.median, one.p90, one.min, one.max) == (7.25, 7.25, 7.25, 7.25)


def test_summarize_p90_is_not_the_max_and_median_ignores_an_outlier():
    s = summarize([10.0] * 9 + [1000.0])
    assert s.median == 10.0
    assert s.p90 == pytest.approx(10.0 + 0.1 * 990.0)
    assert s.max == 1000.0


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [float("inf")]])
def test_summarize_refuses_empty_and_non_finite(bad):
    with pytest.raises(ValueError):
        summarize(bad)


def test_summary_to_dict_units():
    d = summarize([1.0, 3.0]).to_dict()
    assert d == {"n": 2, "median_ms": 2.0, "p90_ms": 2.8, "mean_ms": 2.0, "min_ms": 1.0,
                 "max_ms": 3.0}


def test_images_per_second_from_median():
    assert images_per_second(summarize([250.0, 250.0, 10_000.0])) == pytest.approx(4.0)
    assert math.isinf(images_per_second(Summary(1, 0.0, 0.0, 0.0, 0.0, 0.0)))


def test_time_calls_counts_warmup_and_collects_stages():
    calls = []

    def fn():
        calls.append(1)
        return {"decode": float(len(calls)), "images": 1, "flag": True, "name": "x"}

    samples = time_calls(fn, runs=3, warmup=2)
    assert len(calls) == 5
    assert samples["decode"] == [3.0, 4.0, 5.0]  # the warm-up calls are dropped
    assert samples["images"] == [1.0, 1.0, 1.0]
    assert "flag" not in samples and "name" not in samples  # only numbers
    assert len(samples["wall"]) == 3 and all(v >= 0 for v in samples["wall"])


def test_time_calls_without_stages_and_bad_counts():
    assert list(time_calls(lambda: None, runs=2, warmup=0)) == ["wall"]
    with pytest.raises(ValueError):
        time_calls(lambda: None, runs=0)
    with pytest.raises(ValueError):
        time_calls(lambda: None, runs=1, warmup=-1)


def test_traced_peak_sees_a_numpy_allocation():
    def allocate():
        block = np.ones(16 * 2**20 // 8)  # 16 MiB
        return float(block[0])

    assert 15.5 < traced_peak_mb(allocate) < 40


def test_stages_are_the_estimator_keys():
    assert STAGES == ("load", "preprocess", "inference", "fusion", "decode", "postprocess",
                      "total")


def _people(n, k=17, seed=0):
    rng = np.random.default_rng(seed)
    kp = np.zeros((n, k, 3), np.float32)
    kp[..., :2] = rng.uniform(0, 500, (n, k, 2))
    kp[..., 2] = 0.5
    return kp


def test_pose_agreement_ignores_order_and_measures_distance():
    a = _people(4)
    same = pose_agreement(a, a[::-1])
    assert same["matched"] == 4 and same["share_matched"] == 1.0
    assert same["max_px_diff"] == 0.0 and same["same_order"] is False
    assert pose_agreement(a, a)["same_order"] is True

    moved = a.copy()
    moved[2, 5, 0] += 3.0  # one joint of one person 3 px away
    result = pose_agreement(a, moved)
    assert result["matched"] == 3 and result["max_px_diff"] == pytest.approx(3.0)
    assert result["same_order"] is False


def test_pose_agreement_counts_and_missing_joints():
    a = _people(3)
    fewer = pose_agreement(a, a[:2])
    assert fewer["people"] == [3, 2] and fewer["matched"] == 2
    assert fewer["share_matched"] == pytest.approx(2 / 3)

    lost = a.copy()
    lost[0, 3, 2] = 0.0  # a joint found in one run only: never the same person
    result = pose_agreement(a, lost)
    assert result["matched"] == 2
    assert pose_agreement(a[:0], a[:0])["share_matched"] == 1.0
    assert pose_agreement(a, a[:0])["share_matched"] == 0.0


def test_format_table_aligns_and_formats():
    text = format_table([{"a": "x", "b": 1234.5678, "c": None},
                         {"a": "longer", "b": 0.123, "c": True}], ["a", "b", "c"])
    lines = text.splitlines()
    assert len(lines) == 4 and len({len(line) for line in lines}) == 1
    assert "1234.6" in lines[2] and "0.12" in lines[3] and " -" in lines[2]


def test_write_json_handles_numpy(tmp_path):
    import json

    path = write_json(tmp_path / "sub" / "r.json", {"a": np.float32(1.5), "b": np.arange(3),
                                                     "c": tmp_path})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": [0, 1, 2], "c": str(tmp_path)}


def test_synthetic_image_is_deterministic_bgr():
    a, b = synthetic_image(64, 48, seed=3), synthetic_image(64, 48, seed=3)
    assert a.shape == (48, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert a.std() > 10  # not flat
    with pytest.raises(ValueError):
        synthetic_image(1, 10)
