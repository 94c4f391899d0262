"""``swahr-infer eval`` refuses, before predicting, output paths that would destroy the annotation
file or each other, and negative thread counts (QA findings; real files, real CLI)."""

import shutil

import pytest

from swahr_infer.cli import main
from swahr_infer.errors import OptionError
from swahr_infer.evaluate import evaluate

from .conftest import ANNOTATIONS, IMAGES

NO_MODEL = "no_such_model.onnx"  # never loaded: every check below comes first


@pytest.fixture
def ann_copy(tmp_path):
    """A writable copy of the shipped annotation file (the one the user must not lose)."""
    path = tmp_path / "sc" / "annotations.json"
    path.parent.mkdir()
    shutil.copy(ANNOTATIONS, path)
    return path


def _eval(ann, *args):
    return main(["eval", "--model", NO_MODEL, "--ann", str(ann), "--images", str(IMAGES),
                 "--no-progress", "--limit", "2", *map(str, args)])


@pytest.mark.parametrize("option", ["--out", "--metrics-json"])
def test_an_output_that_is_the_annotation_file_is_refused(ann_copy, option, capsys,
                                                          monkeypatch):
    before = ann_copy.read_bytes()
    monkeypatch.chdir(ann_copy.parent.parent)
    # another spelling of the same file: relative, with a detour through its own folder
    assert _eval("sc/annotations.json", option, "./sc/../sc/annotations.json") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"swahr-infer eval: error: {option} sc/../sc/annotations.json is the --ann "
                   "file: it would replace the annotations; write it elsewhere"]
    assert ann_copy.read_bytes() == before


def test_an_output_that_is_a_hard_link_to_the_annotation_file_is_refused(ann_copy, capsys):
    link = ann_copy.parent / "link.json"
    link.hardlink_to(ann_copy)
    assert _eval(ann_copy, "--out", link) == 1
    assert "is the --ann file" in capsys.readouterr().err


def test_out_and_metrics_json_must_differ(ann_copy, tmp_path, capsys):
    same = tmp_path / "x.json"
    assert _eval(ann_copy, "--out", same, "--metrics-json", same) == 1
    err = capsys.readouterr().err
    assert f"--out and --metrics-json name the same file ({same})" in err
    assert not same.exists()


def test_the_library_refuses_results_over_the_annotation_file(ann_copy):
    before = ann_copy.read_bytes()
    with pytest.raises(OptionError, match="is the annotation file"):
        evaluate(NO_MODEL, ann_copy, IMAGES, results_file=str(ann_copy))
    assert ann_copy.read_bytes() == before


@pytest.mark.parametrize("threads", ["-2", "-1"])
def test_negative_threads_are_refused(ann_copy, threads, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _eval(ann_copy, "--threads", threads)
    assert exit_info.value.code == 2
    assert f"argument --threads: must be at least 0, got {threads}" in capsys.readouterr().err
