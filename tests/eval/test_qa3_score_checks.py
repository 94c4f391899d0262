"""``swahr_infer.evaluate.score`` called from Python: results and options the scoring libraries
cannot take are refused up front with typed errors naming the entry or id (the libraries raise a
bare AssertionError, KeyError or numpy broadcast error); a results JSON file is accepted as a
path.  The shipped synthetic set, the real scorer."""

import json

import pytest

from swahr_infer.errors import AnnotationError, OptionError
from swahr_infer.evaluate import score

from .conftest import ANNOTATIONS, ground_truth_results, needs_scorer

pytestmark = needs_scorer


@pytest.fixture
def perfect(coco_data):
    return ground_truth_results(coco_data)


def _without(entry, key):
    return {k: v for k, v in entry.items() if k != key}


@pytest.mark.parametrize("change, message", [
    (lambda r: dict(r, image_id=12345), r"results\[1\]: image_id 12345 is not an image of"),
    (lambda r: dict(r, image_id=str(r["image_id"])), r"results\[1\]: image_id must be an integer"),
    (lambda r: _without(r, "score"), r"results\[1\] \(image_id \d+\) lacks 'score'"),
    (lambda r: _without(r, "category_id"), r"results\[1\] \(image_id \d+\) lacks 'category_id'"),
    (lambda r: dict(r, score="high"), r"results\[1\] \(image_id \d+\): score must be a finite"),
    (lambda r: dict(r, category_id=2), r"results\[1\] \(image_id \d+\): category_id 2 is not"),
    (lambda r: dict(r, keypoints=r["keypoints"][:42]), r"keypoints must be 51 numbers .* got 42"),
    (lambda r: dict(r, keypoints=r["keypoints"][:-1] + [None]), r"keypoints must be finite"),
    (lambda r: "not a dict", r"results\[1\] is not a dict"),
])
def test_a_result_the_scorer_cannot_take_is_named(perfect, change, message):
    results = [perfect[0], change(perfect[1])] + perfect[2:]
    with pytest.raises(AnnotationError, match=message):
        score(ANNOTATIONS, results)


@pytest.mark.parametrize("image_ids, message", [
    ([], "image_ids is empty"),
    ([12345], "image_ids: 12345 not in"),
    ([1, 777, 778], "image_ids: 777, 778 not in"),
    (["1"], "image_ids must be integers.*'1'"),
    ("12", "image_ids must be a list"),
])
def test_image_ids_must_be_images_of_the_file(perfect, image_ids, message):
    with pytest.raises(OptionError, match=message):
        score(ANNOTATIONS, perfect, image_ids=image_ids)


def test_results_on_other_images_are_left_out_of_a_subset(perfect):
    # every image's perfect results, scored on images 1 and 2 only: the others do not count
    assert score(ANNOTATIONS, perfect, image_ids=[1, 2]).ap == 1.0


def test_crowdpose_on_a_coco_file_is_refused_as_evaluate_does(perfect):
    with pytest.raises(AnnotationError, match="17 keypoints per person, but crowdpose has 14"):
        score(ANNOTATIONS, perfect, dataset="crowdpose")
    with pytest.raises(OptionError, match="dataset must be"):
        score(ANNOTATIONS, perfect, dataset="mpii")


def test_a_results_file_path_is_read(perfect, tmp_path):
    path = tmp_path / "res.json"
    path.write_text(json.dumps(perfect))
    assert score(ANNOTATIONS, str(path)).ap == 1.0
    assert score(ANNOTATIONS, path, image_ids=[3]).ap == 1.0
    path.write_text(json.dumps({"annotations": perfect}))
    with pytest.raises(AnnotationError, match="not a COCO results file"):
        score(ANNOTATIONS, path)
    path.write_text("[{")
    with pytest.raises(AnnotationError, match="not valid JSON"):
        score(ANNOTATIONS, path)
    with pytest.raises(FileNotFoundError):
        score(ANNOTATIONS, tmp_path / "missing.json")
    with pytest.raises(OptionError, match="results must be a list"):
        score(ANNOTATIONS, 42)
