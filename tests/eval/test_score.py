"""The scorer wrapper (swahr_infer.evaluate.score) against perfect, spoiled and direct scores."""

import json
import sys

import numpy as np
import pytest

from swahr_infer.errors import MissingDependencyError
from swahr_infer.evaluate import CocoMetrics, CrowdPoseMetrics, score, scoring_api
from swahr_infer.skeleton import CROWDPOSE

from .conftest import (ANNOTATIONS, PYCOCOTOOLS, XTCOCOTOOLS, ground_truth_results,
                       library_stats, needs_scorer, needs_xtcocotools, to_crowdpose)

pytestmark = needs_scorer


def _spoil(results, shift, every=2):
    """Move the keypoints of every ``every``-th person by ``shift`` px and lower its score."""
    out = json.loads(json.dumps(results))
    for r in out[::every]:
        k = np.array(r["keypoints"]).reshape(-1, 3)
        k[:, :2] += shift
        r["keypoints"] = k.reshape(-1).tolist()
        r["score"] = 0.5
    return out


def test_ground_truth_as_prediction_scores_one(coco_data):
    metrics = score(ANNOTATIONS, ground_truth_results(coco_data))
    assert isinstance(metrics, CocoMetrics)
    # the data set has small, medium and large people, so every number is defined
    assert metrics.as_dict() == {k: 1.0 for k in metrics.as_dict()}


def test_spoiled_predictions_score_as_the_library_does(coco_data):
    results = _spoil(ground_truth_results(coco_data), shift=3.0)
    metrics = score(ANNOTATIONS, results)
    assert 0.2 < metrics.ap < 0.95
    assert list(metrics.as_dict().values()) == pytest.approx(
        library_stats(ANNOTATIONS, results)[:10], abs=0)
    # a scorer that ignores the keypoints would not notice a larger shift
    assert score(ANNOTATIONS, _spoil(results, shift=6.0)).ap < metrics.ap


def test_no_results_and_image_subset(coco_data):
    assert score(ANNOTATIONS, []).ap == 0.0
    perfect = ground_truth_results(coco_data)
    only_first = [r for r in perfect if r["image_id"] in (1, 2)]
    # scored on images 1 and 2 only, their perfect predictions are perfect ...
    assert score(ANNOTATIONS, only_first, image_ids=[1, 2]).ap == 1.0
    # ... and on all images the people of 3..6 are missed
    assert score(ANNOTATIONS, only_first).ar < 1.0


@pytest.mark.skipif(XTCOCOTOOLS is None or PYCOCOTOOLS is None,
                    reason="needs both xtcocotools and pycocotools")
def test_pycocotools_fallback_gives_the_same_coco_numbers(coco_data, monkeypatch):
    results = _spoil(ground_truth_results(coco_data), shift=2.5)
    with_xtcocotools = score(ANNOTATIONS, results)
    for name in ("xtcocotools", "xtcocotools.coco", "xtcocotools.cocoeval"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    assert scoring_api("coco").name.startswith("pycocotools")
    assert score(ANNOTATIONS, results) == with_xtcocotools


def test_crowdpose_without_xtcocotools_says_how_to_build_it(monkeypatch):
    for name in ("xtcocotools", "xtcocotools.coco", "xtcocotools.cocoeval"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingDependencyError, match="xtcocotools.*--no-binary xtcocotools"):
        scoring_api("crowdpose")


@needs_xtcocotools
def test_crowdpose_ground_truth_scores_one_with_the_crowd_protocol(tmp_path, coco_data):
    api = scoring_api("crowdpose")
    assert (api.iou_type, api.eval_options["use_area"]) == ("keypoints_crowd", False)
    assert list(api.eval_options["sigmas"]) == list(CROWDPOSE.sigmas)
    data = to_crowdpose(coco_data)
    path = tmp_path / "crowdpose.json"
    path.write_text(json.dumps(data))
    metrics = score(path, ground_truth_results(data))
    assert isinstance(metrics, CrowdPoseMetrics)
    assert metrics.as_dict() == {k: 1.0 for k in metrics.as_dict()}  # easy/medium/hard too

    results = _spoil(ground_truth_results(data), shift=3.0)
    expected = library_stats(path, results, "keypoints_crowd",
                             sigmas=np.array(CROWDPOSE.sigmas), use_area=False)
    assert list(score(path, results).as_dict().values()) == pytest.approx(expected[:9], abs=0)


@needs_xtcocotools
def test_crowdpose_without_crowd_index(tmp_path, coco_data):
    data = to_crowdpose(coco_data, crowd_index=False)
    path = tmp_path / "crowdpose.json"
    path.write_text(json.dumps(data))
    results = _spoil(ground_truth_results(data), shift=3.0)
    metrics = score(path, results)
    assert (metrics.ap_easy, metrics.ap_medium, metrics.ap_hard) == (-1.0, -1.0, -1.0)
    # the other six are those of the full crowd protocol (which needs the index to run)
    data_with = to_crowdpose(coco_data)
    path_with = tmp_path / "with_index.json"
    path_with.write_text(json.dumps(data_with))
    full = score(path_with, results)
    assert (metrics.ap, metrics.ap50, metrics.ap75, metrics.ar, metrics.ar50, metrics.ar75) == (
        full.ap, full.ap50, full.ap75, full.ar, full.ar50, full.ar75)
