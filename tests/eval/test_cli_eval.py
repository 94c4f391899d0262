"""``swahr-infer eval`` end to end: real ONNX Runtime sessions, the shipped data set, real files."""

import json
import logging
import re
import sys

import numpy as np
import pytest

from swahr_infer.cli import main
from swahr_infer.estimator import Estimator
from swahr_infer.evaluate import evaluate, predict_images
from swahr_infer.skeleton import CROWDPOSE

from .conftest import ANNOTATIONS, IMAGES, library_stats, needs_scorer, needs_xtcocotools

pytestmark = needs_scorer


def _table(text):
    """{label: value} from the metrics table the CLI prints."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    labels = [c.strip() for c in rows[0].strip("|").split("|")]
    values = [c.strip() for c in rows[2].strip("|").split("|")]
    return {k: (-1.0 if v == "-" else float(v)) for k, v in zip(labels, values)}


def _eval(*args):
    return main(["eval", "--no-progress", "--threads", "1", *map(str, args)])


def test_eval_prints_the_libraries_ap_and_writes_coco_results(tiny_coco_model, tmp_path, capsys):
    results, metrics_json = tmp_path / "results.json", tmp_path / "metrics.json"
    code = _eval("--model", tiny_coco_model, "--ann", ANNOTATIONS, "--images", IMAGES,
                 "--out", results, "--metrics-json", metrics_json)
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"^6 image\(s\), \d+ person\(s\) found", out, re.M)
    printed = _table(out)
    assert list(printed) == ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm",
                             "ARl"]
    entries = json.loads(results.read_text())
    assert entries and {e["image_id"] for e in entries} <= set(range(1, 7))
    assert all(e["category_id"] == 1 and len(e["keypoints"]) == 51 and set(e) ==
               {"image_id", "category_id", "keypoints", "score"} for e in entries)
    direct = library_stats(ANNOTATIONS, results)
    assert list(printed.values()) == pytest.approx([round(v, 3) for v in direct[:10]], abs=1e-9)
    saved = json.loads(metrics_json.read_text())
    assert saved["metrics"]["AP"] == direct[0] and saved["people"] == len(entries)
    assert saved["failures"] == []


def _annotations_from(poses_results, data, image_ids, top=20):
    """A COCO annotation file whose ground truth is the given predictions (top per image)."""
    anns = []
    for image_id in image_ids:
        mine = sorted((r for r in poses_results if r["image_id"] == image_id),
                      key=lambda r: -r["score"])[:top]
        for r in mine:
            k = np.array(r["keypoints"]).reshape(-1, 3)
            found = k[:, 2] > 0
            k[found, 2], k[~found] = 2, 0
            x0, y0 = k[found, :2].min(0)
            x1, y1 = k[found, :2].max(0)
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": 1,
                         "iscrowd": 0, "keypoints": k.reshape(-1).tolist(),
                         "num_keypoints": int(found.sum()),
                         "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                         "area": float(max(x1 - x0, 1) * max(y1 - y0, 1))})
    return {"images": [im for im in data["images"] if im["id"] in image_ids],
            "annotations": anns, "categories": data["categories"]}


def test_own_predictions_as_ground_truth_score_one(tiny_coco_model, coco_data, tmp_path):
    # end to end through image ids, pixel coordinates and keypoint order: a model scored
    # against what it predicted itself gets AP 1; the same model without flip test does not
    estimator = Estimator(tiny_coco_model, threads=1)
    images = coco_data["images"][:3]
    predicted, failures = predict_images(estimator, images, IMAGES, progress=False)
    assert predicted and not failures
    ann = tmp_path / "own.json"
    ann.write_text(json.dumps(_annotations_from(predicted, coco_data, [im["id"] for im in images])))

    report = evaluate(estimator, ann, IMAGES, progress=False)
    assert report.images == 3 and report.metrics.ap == 1.0 and report.metrics.ar == 1.0

    results = tmp_path / "noflip.json"
    no_flip = evaluate(tiny_coco_model, ann, IMAGES, flip=False, threads=1, progress=False,
                       results_file=results)
    assert 0.0 < no_flip.metrics.ap < 1.0
    assert no_flip.metrics.ap == library_stats(ann, results)[0]


def test_missing_and_corrupt_images_are_counted_not_fatal(tiny_coco_model, image_copy, tmp_path,
                                                         capsys, caplog):
    (image_copy / "000000000002.jpg").unlink()
    (image_copy / "000000000005.jpg").write_bytes(b"not a jpeg")
    caplog.set_level(logging.WARNING)
    code = _eval("--model", tiny_coco_model, "--ann", ANNOTATIONS, "--images", image_copy,
                 "--out", tmp_path / "results.json")
    captured = capsys.readouterr()
    assert code == 0
    assert "6 image(s), 2 failed" in captured.out
    assert "2 image(s) could not be evaluated" in captured.err
    assert "000000000002.jpg: no such file" in captured.err
    assert "000000000005.jpg: not an image" in captured.err
    skipped = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert len(skipped) == 2  # one line each, as they happen
    ids = {e["image_id"] for e in json.loads((tmp_path / "results.json").read_text())}
    assert ids and not ids & {2, 5}
    # the failed images' people count as missed: same numbers as the library on all 6 images
    assert _table(captured.out)["AP"] == pytest.approx(
        round(library_stats(ANNOTATIONS, tmp_path / "results.json")[0], 3), abs=1e-9)


def test_no_readable_image_is_an_error(tiny_coco_model, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _eval("--model", tiny_coco_model, "--ann", ANNOTATIONS, "--images", empty) == 1
    assert "none of the 6 images could be evaluated" in capsys.readouterr().err


def test_limit(tiny_coco_model, tmp_path, capsys):
    results = tmp_path / "results.json"
    code = _eval("--model", tiny_coco_model, "--ann", ANNOTATIONS, "--images", IMAGES,
                 "--limit", "2", "--no-flip", "--scales", "1", "--out", results)
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("2 image(s),")
    assert {e["image_id"] for e in json.loads(results.read_text())} <= {1, 2}


@needs_xtcocotools
def test_crowdpose_file_is_scored_with_the_crowd_protocol(tiny_crowdpose_model, crowdpose_file,
                                                        tmp_path, capsys):
    # a random-weight model scores AP 0 on the real labels, which would compare nothing: the
    # ground truth is its own flip-test prediction instead (as for COCO above), in CrowdPose's
    # format (14 joints, crowdIndex per image, no areas), and the run is without flip test
    crowd = json.loads(crowdpose_file.read_text())
    images = crowd["images"][:3]
    estimator = Estimator(tiny_crowdpose_model, threads=1)
    predicted, _ = predict_images(estimator, images, IMAGES, progress=False)
    own = _annotations_from(predicted, crowd, [im["id"] for im in images])
    for ann in own["annotations"]:
        del ann["area"]
    ann_file, results = tmp_path / "own_crowdpose.json", tmp_path / "results.json"
    ann_file.write_text(json.dumps(own))
    code = _eval("--model", tiny_crowdpose_model, "--ann", ann_file, "--images", IMAGES,
                 "--no-flip", "--out", results)
    out = capsys.readouterr().out
    assert code == 0
    assert "crowdpose keypoints scored by xtcocotools" in out
    printed = _table(out)
    assert list(printed) == ["AP", "AP50", "AP75", "AR", "AR50", "AR75", "AP(E)", "AP(M)",
                             "AP(H)"]
    assert 0.0 < printed["AP"] < 1.0  # numbers worth comparing
    # xtcocotools' own numbers under CrowdPose's rules: its sigmas, no area ranges
    direct = library_stats(ann_file, results, "keypoints_crowd",
                           sigmas=np.array(CROWDPOSE.sigmas), use_area=False)
    assert list(printed.values()) == pytest.approx([round(v, 3) for v in direct[:9]], abs=1e-9)


def test_crowdpose_file_with_the_coco_protocol_is_refused(tiny_coco_model, crowdpose_file,
                                                          capsys):
    assert _eval("--model", tiny_coco_model, "--ann", crowdpose_file, "--images", IMAGES,
                 "--dataset", "coco") == 1
    assert "14 keypoints per person, but coco has 17" in capsys.readouterr().err


@needs_xtcocotools
def test_crowdpose_file_with_a_coco_model_is_refused(tiny_coco_model, crowdpose_file, capsys):
    assert _eval("--model", tiny_coco_model, "--ann", crowdpose_file, "--images", IMAGES) == 1
    assert "the model finds 17 joints (coco) but" in capsys.readouterr().err


def test_crowdpose_without_xtcocotools_fails_before_predicting(tiny_crowdpose_model,
                                                              crowdpose_file, tmp_path,
                                                              monkeypatch, capsys):
    for name in ("xtcocotools", "xtcocotools.coco", "xtcocotools.cocoeval"):
        monkeypatch.setitem(sys.modules, name, None)
    results = tmp_path / "results.json"
    assert _eval("--model", tiny_crowdpose_model, "--ann", crowdpose_file, "--images", IMAGES,
                 "--out", results) == 1
    err = capsys.readouterr().err
    assert "xtcocotools is required for CrowdPose evaluation" in err
    assert "pip install cython && pip install --no-build-isolation --no-binary xtcocotools" in err
    assert not results.exists()


@pytest.mark.slow
def test_exported_model_end_to_end(tmp_path, capsys):
    # the real exporter's output (random weights) through `swahr-infer eval`
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from export.model import build_model

    torch.manual_seed(0)
    torch.set_num_threads(2)
    checkpoint = tmp_path / "w8.pth"
    torch.save(build_model("w8-tiny").state_dict(), checkpoint)
    model = tmp_path / "w8.onnx"
    assert main(["export", str(checkpoint), "-o", str(model)]) == 0
    capsys.readouterr()
    results = tmp_path / "results.json"
    assert _eval("--model", model, "--ann", ANNOTATIONS, "--images", IMAGES, "--limit", "2",
                 "--no-flip", "--out", results) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 image(s),")
    assert _table(out)["AP"] == pytest.approx(
        round(library_stats(ANNOTATIONS, results)[0], 3), abs=1e-9)


def test_input_size_is_passed_on(tiny_coco_model, tmp_path):
    """``eval --input-size`` scores what ``evaluate(..., input_size=...)`` scores (the tiny
    model's own size is 128)."""
    results = tmp_path / "results.json"
    assert _eval("--model", tiny_coco_model, "--ann", ANNOTATIONS, "--images", IMAGES,
                 "--limit", "2", "--no-flip", "--input-size", "192", "--out", results) == 0
    cli = json.loads(results.read_text())
    direct = evaluate(str(tiny_coco_model), ANNOTATIONS, IMAGES, flip=False, limit=2,
                      input_size=192, threads=1, progress=False,
                      results_file=tmp_path / "direct.json")
    assert direct.people == len(cli)
    assert cli == json.loads((tmp_path / "direct.json").read_text())
    evaluate(str(tiny_coco_model), ANNOTATIONS, IMAGES, flip=False, limit=2, threads=1,
             progress=False, results_file=tmp_path / "default.json")
    assert json.loads((tmp_path / "default.json").read_text()) != cli
