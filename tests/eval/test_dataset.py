"""Which data set an annotation file is, and refusals of files evaluation cannot use."""

import json

import pytest

from swahr_infer.errors import AnnotationError
from swahr_infer.evaluate import detect_dataset, load_annotations

from .conftest import ANNOTATIONS, to_crowdpose


def test_shipped_file_is_coco(coco_data):
    assert detect_dataset(coco_data) == "coco"


def test_crowdpose_by_names_and_by_joint_count(coco_data, crowdpose_file):
    assert detect_dataset(load_annotations(crowdpose_file)) == "crowdpose"
    renamed = to_crowdpose(coco_data)
    renamed["categories"][0]["keypoints"] = [f"joint{i}" for i in range(14)]
    assert detect_dataset(renamed) == "crowdpose"
    renamed["categories"][0]["keypoints"] = [f"joint{i}" for i in range(17)]
    assert detect_dataset(renamed) == "coco"


def test_unknown_layouts_and_non_keypoint_files_are_refused(coco_data, tmp_path):
    odd = json.loads(json.dumps(coco_data))
    odd["categories"][0]["keypoints"] = ["a", "b", "c"]
    with pytest.raises(AnnotationError, match="3 keypoints"):
        detect_dataset(odd)
    del odd["categories"][0]["keypoints"]
    with pytest.raises(AnnotationError, match="no category with 'keypoints'"):
        detect_dataset(odd)
    broken = tmp_path / "broken.json"
    broken.write_text(ANNOTATIONS.read_text()[:100])
    with pytest.raises(AnnotationError, match="not valid JSON"):
        load_annotations(broken)
    results_file = tmp_path / "results.json"
    results_file.write_text("[]")
    with pytest.raises(AnnotationError, match="not a COCO-format annotation file"):
        load_annotations(results_file)
