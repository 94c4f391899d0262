"""The model and example image shipped in the package: the README's first command works."""

import json

import numpy as np
import pytest

from swahr_infer import Estimator
from swahr_infer.bundled import DATA_DIR, bundled_model, example_image
from swahr_infer.cli import main
from swahr_infer.postprocess import oks_matrix
from swahr_infer.skeleton import COCO


@pytest.fixture(scope="module")
def example_poses():
    return Estimator(threads=1).predict(str(example_image()))


def test_bundled_model_describes_itself():
    est = Estimator(threads=1)
    assert bundled_model().suffix == ".onnx"
    assert est.info.num_joints == 17 and est.info.input_size == 384
    assert est.info.arch == "w16-small" and est.info.width == 16


def test_bundled_model_finds_the_figures_of_the_example(example_poses):
    """The 4 unoccluded figures of the 5 drawn are each matched by a predicted skeleton with
    OKS >= 0.5 (the shipped model reaches 0.86-0.98 on them; the fifth stands mostly hidden behind
    the large figure, its joints labelled occluded)."""
    truth = np.array(json.loads((DATA_DIR / "example.json").read_text())["keypoints"],
                     np.float32)
    truth[..., 2] = truth[..., 2] > 0
    both = np.concatenate([truth, example_poses.keypoints])
    oks = oks_matrix(both, COCO.sigmas)[:len(truth), len(truth):]
    assert (oks.max(axis=1) >= 0.5).sum() >= 4, np.round(oks.max(axis=1), 2)


def test_bundled_model_finds_figures_of_every_size():
    """The second example: four figures from about 40 to 240 px tall (SAHR's point, scale
    variation), each found with OKS >= 0.8 (measured 0.91-0.99)."""
    truth = np.array(json.loads((DATA_DIR / "example_scales.json").read_text())["keypoints"],
                     np.float32)
    truth[..., 2] = truth[..., 2] > 0
    poses = Estimator(threads=1).predict(str(DATA_DIR / "example_scales.jpg"))
    both = np.concatenate([truth, poses.keypoints])
    oks = oks_matrix(both, COCO.sigmas)[:len(truth), len(truth):]
    assert len(truth) == 4 and (oks.max(axis=1) >= 0.8).all(), np.round(oks.max(axis=1), 2)


def test_readme_first_command(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["predict", str(example_image()), "--out", str(out), "--json",
                 str(out / "poses.json"), "--min-score", "0.3", "--joint-threshold", "0.3",
                 "--no-progress"])
    assert code == 0
    assert (out / "example.jpg").stat().st_size > 0
    results = json.loads((out / "poses.json").read_text())
    # one pose per figure: the 5 drawn (the hidden one may be missed), no duplicates
    assert 4 <= len(results) <= 5 and all(r["score"] >= 0.3 for r in results), \
        [round(r["score"], 2) for r in results]


def test_input_size_option_reaches_the_estimator(tmp_path):
    """``predict --input-size 320`` runs the network at 320 (not the model's 384): its poses are
    those of ``Estimator(input_size=320)`` and differ from the default's; 0 is refused."""
    results = {}
    for size in (None, 320):
        path = tmp_path / f"{size}.json"
        extra = ["--input-size", str(size)] if size else []
        assert main(["predict", str(example_image()), "--json", str(path), "--threads", "1",
                     "--no-progress", *extra]) == 0
        results[size] = json.loads(path.read_text())
    direct = Estimator(threads=1, input_size=320).predict(str(example_image()))
    flat = np.array([r["keypoints"] for r in results[320]], np.float32).reshape(-1, 17, 3)
    assert np.allclose(flat[..., :2], direct.keypoints[..., :2], atol=1e-2)
    assert [round(r["score"], 4) for r in results[320]] != \
        [round(r["score"], 4) for r in results[None]]
    with pytest.raises(SystemExit):
        main(["predict", str(example_image()), "--input-size", "0"])


def test_joint_threshold_hides_unsure_joints_in_the_picture_only(tmp_path):
    """``--joint-threshold`` drops low-scoring joints (and their limbs) from the drawing: at 0.3
    fewer pixels are painted than at 0 but some are, above every score none are, and the JSON
    is the same at every threshold."""
    import cv2

    pictures, results = {}, {}
    for t in ("0", "0.3", "100"):
        out = tmp_path / t
        assert main(["predict", str(example_image()), "--out", str(out), "--json",
                     str(out / "poses.json"), "--joint-threshold", t, "--threads", "1",
                     "--no-progress"]) == 0
        pictures[t] = cv2.imread(str(out / "example.jpg")).astype(np.int16)
        results[t] = json.loads((out / "poses.json").read_text())
    assert results["0"] == results["0.3"] == results["100"]
    original = cv2.imread(str(example_image())).astype(np.int16)
    assert np.abs(pictures["100"] - original).mean() < 2  # JPEG re-encoding only
    painted = {t: int((np.abs(pictures[t] - pictures["100"]).max(axis=2) > 40).sum())
               for t in ("0", "0.3")}
    assert painted["0"] > painted["0.3"] > 0, painted


def test_assignment_option_reaches_the_decoder(tmp_path, example_poses):
    """On the example the bundled model's low-scoring people tie in the matching, so
    ``--assignment munkres`` (the official solver) groups some of them otherwise than the
    default scipy solver; the confident people are the same either way."""
    path = tmp_path / "munkres.json"
    assert main(["predict", str(example_image()), "--json", str(path), "--threads", "1",
                 "--no-progress", "--assignment", "munkres"]) == 0
    results = json.loads(path.read_text())
    munkres = np.array([r["keypoints"] for r in results], np.float32).reshape(-1, 17, 3)
    scores = np.array([r["score"] for r in results], np.float32)
    direct = Estimator(threads=1, assignment="munkres").predict(str(example_image()))
    assert np.allclose(munkres[..., :2], direct.keypoints[..., :2], atol=1e-2)
    assert len(munkres) == len(example_poses)
    differs = ~np.isclose(scores, example_poses.scores, atol=1e-4)
    assert differs.any()  # another tie order, through the CLI flag
    confident = example_poses.scores > 0.8
    assert confident.sum() >= 2 and not differs[confident].any()
    assert np.allclose(munkres[confident, :, :2], example_poses.keypoints[confident, :, :2],
                       atol=1e-3)
    with pytest.raises(SystemExit):
        main(["predict", str(example_image()), "--assignment", "hungarian"])
