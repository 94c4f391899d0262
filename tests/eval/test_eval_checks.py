"""What ``evaluate`` / ``swahr-infer eval`` check before predicting a single image: annotation
files whose ids or people the scorer cannot use, a missing image folder, output files that
could not be written afterwards (the shipped synthetic set, real files)."""

import json

import pytest

from swahr_infer.cli import main
from swahr_infer.errors import AnnotationError, ImageError
from swahr_infer.evaluate import evaluate

from .conftest import ANNOTATIONS, IMAGES, needs_scorer

NO_MODEL = "no_such_model.onnx"  # never loaded: every check below comes first


def _variant(tmp_path, change):
    data = json.loads(ANNOTATIONS.read_text())
    change(data)
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(data))
    return path


def test_duplicate_image_ids_are_refused(tmp_path):
    path = _variant(tmp_path, lambda d: d["images"].append(dict(d["images"][0])))
    first = json.loads(ANNOTATIONS.read_text())["images"][0]["id"]
    with pytest.raises(AnnotationError, match=f"image id {first} is listed twice"):
        evaluate(NO_MODEL, path, IMAGES)


def test_image_ids_must_be_integers(tmp_path):
    def stringify(data):
        data["images"][0]["id"] = "frame-1"
    with pytest.raises(AnnotationError, match="image ids must be integers"):
        evaluate(NO_MODEL, _variant(tmp_path, stringify), IMAGES)


@pytest.mark.parametrize("key, entry", [("images", "frame.png"), ("annotations", 5),
                                        ("categories", ["person"])])
def test_entries_that_are_not_objects_are_refused(tmp_path, key, entry):
    path = _variant(tmp_path, lambda d: d[key].insert(1, entry))
    with pytest.raises(AnnotationError, match=rf"{key}\[1\] is not a JSON object"):
        evaluate(NO_MODEL, path, IMAGES)


def test_a_coco_person_without_area_is_refused_before_predicting(tmp_path):
    def drop_area(data):
        del data["annotations"][2]["area"]
    with pytest.raises(AnnotationError, match="lacks 'area', which coco OKS scoring needs"):
        evaluate(NO_MODEL, _variant(tmp_path, drop_area), IMAGES)


@needs_scorer  # the scorer is looked for first
def test_a_missing_image_folder_is_refused_before_predicting(tmp_path):
    with pytest.raises(ImageError, match="no such folder"):
        evaluate(NO_MODEL, ANNOTATIONS, tmp_path / "nope")


@pytest.mark.parametrize("option", ["--out", "--metrics-json"])
def test_an_output_that_is_a_folder_is_refused_before_predicting(tmp_path, option, capsys):
    folder = tmp_path / "existing"
    folder.mkdir()
    code = main(["eval", "--model", NO_MODEL, "--ann", str(ANNOTATIONS), "--images", str(IMAGES),
                 "--no-progress", option, str(folder)])
    err = capsys.readouterr().err
    assert code == 1 and f"{option} {folder}: is a folder" in err


def test_the_python_api_checks_results_file_and_limit_before_predicting(tmp_path):
    """The CLI checked --out before the run; evaluate() itself wrote it only after every image
    was predicted, and then failed on a folder with a raw IsADirectoryError, results lost."""
    from swahr_infer.errors import OptionError

    folder = tmp_path / "results"
    folder.mkdir()
    with pytest.raises(OptionError, match=f"results_file {folder}: is a folder"):
        evaluate(NO_MODEL, ANNOTATIONS, IMAGES, results_file=folder)  # the model never loads
    with pytest.raises(OptionError, match="limit must be a whole number of images"):
        evaluate(NO_MODEL, ANNOTATIONS, IMAGES, limit="x")
