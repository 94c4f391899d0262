"""benchmarks/ablation_sizes.py: AP by figure size and best OKS, with the bundled model on a few
held-out synthetic images.  Its "all" range must give the standard AP back (the same scorer,
the same detections), and the best OKS must agree with the scorer's matching."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of scripts, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import ablation_sizes  # noqa: E402
from eval.conftest import needs_scorer  # noqa: E402
from swahr_infer.bundled import bundled_model  # noqa: E402


@needs_scorer
def test_rows_by_size_repeat_the_standard_ap(tmp_path, capsys):
    out = tmp_path / "sizes.json"
    model = str(bundled_model())
    assert ablation_sizes.main([f"bundled={model}", "--images", "4", "--threads", "1",
                                "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["validation"]["images"] == 4 and report["validation"]["seed"] == 424242
    (row,) = report["rows"]
    assert row["config"] == "bundled" and row["people"] >= row["people_over_0.3"] > 0
    assert row["ap_all"] == pytest.approx(row["ap"], abs=1e-4)  # the standard AP, recomputed
    for key in ("ap_small", "ap_medium", "ap75_small", "ap75_medium", "best_oks_median_small",
                "best_oks_median_medium", "best_oks_075_small", "best_oks_075_medium"):
        assert row[key] is None or 0.0 <= row[key] <= 1.0, key
    # a trained model localises the medium figures it was shown: their best OKS is high
    assert row["best_oks_median_medium"] > 0.7
    assert "best OKS median" in capsys.readouterr().out

    # --append scores more models on the report's own set (4 images, not the default 200) and
    # keeps the rows before; a model named as an existing row replaces it where it stands
    assert ablation_sizes.main(["--append", "--json", str(out), "--threads", "1",
                                f"again={model}", f"bundled={model}"]) == 0
    appended = json.loads(out.read_text())
    assert appended["validation"] == report["validation"]
    assert [r["config"] for r in appended["rows"]] == ["bundled", "again"]
    assert appended["rows"][1]["ap"] == row["ap"] and appended["rows"][0] == row
    assert appended["commands_before"] == [report["command"]]


def test_best_oks_is_the_scorers_formula_on_hand_made_people():
    sigmas = np.full(17, 0.1)
    truth = np.zeros((17, 3))
    truth[:, 0], truth[:, 1], truth[:, 2] = np.arange(17) * 3.0, 10.0, 2
    truth[16, 2] = 0  # an unlabelled joint does not count
    person = {"image_id": 1, "keypoints": truth.ravel().tolist(), "area": 400.0}
    moved = truth.copy()
    moved[:, 0] += 2.0  # every joint 2 px off: OKS = exp(-4 / (2 * 0.04 * 400)) = exp(-1/8)
    moved[16, :2] = 999.0  # the unlabelled joint far off changes nothing
    results = [{"image_id": 1, "keypoints": moved.ravel().tolist(), "score": 0.9},
               {"image_id": 2, "keypoints": truth.ravel().tolist(), "score": 0.9}]  # other image
    got = ablation_sizes.best_oks([person], results, sigmas)
    assert got["best_oks_median_small"] == pytest.approx(np.exp(-1 / 8))
    assert got["best_oks_075_small"] == 1.0 and got["best_oks_median_medium"] is None


def test_a_bad_model_argument_is_refused_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        ablation_sizes.main(["bundled.onnx", "--json", str(tmp_path / "x.json")])
    assert stop.value.code == 2
    assert "model bundled.onnx: expected NAME=PATH" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_append_needs_a_readable_report_on_the_same_set(tmp_path, capsys):
    model = str(bundled_model())
    missing = tmp_path / "none.json"
    with pytest.raises(SystemExit) as stop:
        ablation_sizes.main(["--append", "--json", str(missing), f"m={model}"])
    assert stop.value.code == 2
    assert f"cannot read the report to add to, {missing}" in capsys.readouterr().err
    report = tmp_path / "sizes.json"
    report.write_text(json.dumps({"command": "x", "rows": [], "validation": {
        "generator": "g", "images": 4, "size": 256, "seed": 424242}}))
    with pytest.raises(SystemExit) as stop:  # the new rows would be scored on other images
        ablation_sizes.main(["--append", "--json", str(report), "--images", "9", f"m={model}"])
    assert stop.value.code == 2
    assert "--images 9 differs from the report's validation set (images 4)" in (
        capsys.readouterr().err)
    assert json.loads(report.read_text())["rows"] == []  # untouched
