"""Fixtures of the evaluation tests: the shipped synthetic data set, tiny models, and the scoring
libraries used directly (to check swahr_infer.evaluate against them)."""

import json
import shutil
from pathlib import Path

import pytest

from runtime.tiny_model import build_tiny_model, make_info
from swahr_infer.metadata import DecodeDefaults
from swahr_infer.skeleton import COCO, CROWDPOSE

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic_coco"
ANNOTATIONS = DATA / "annotations.json"
IMAGES = DATA / "images"


def import_library(name):
    """(COCO, COCOeval) of a scoring library, or None when it cannot be imported here
    (xtcocotools' numpy-1 wheels raise ValueError under numpy 2)."""
    try:
        from importlib import import_module

        return (import_module(f"{name}.coco").COCO,
                import_module(f"{name}.cocoeval").COCOeval)
    except (ImportError, ValueError):
        return None


XTCOCOTOOLS = import_library("xtcocotools")
PYCOCOTOOLS = import_library("pycocotools")
needs_scorer = pytest.mark.skipif(
    XTCOCOTOOLS is None and PYCOCOTOOLS is None,
    reason="needs pycocotools or xtcocotools: pip install -e '.[eval]'")
needs_xtcocotools = pytest.mark.skipif(
    XTCOCOTOOLS is None, reason="needs xtcocotools (README, Evaluate: build it from source)")


def library_stats(annotation_file, results, iou_type="keypoints", **options):
    """COCOeval stats computed directly by the library evaluate.py is meant to use (xtcocotools
    when importable, else pycocotools), without swahr_infer."""
    coco, cocoeval = XTCOCOTOOLS or PYCOCOTOOLS
    gt = coco(str(annotation_file))
    dt = gt.loadRes(str(results)) if isinstance(results, (str, Path)) else gt.loadRes(results)
    evaluator = cocoeval(gt, dt, iou_type, **options)
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return [float(v) for v in evaluator.stats]


def ground_truth_results(data, score=1.0):
    """Each labelled ground-truth person as a COCO result: the perfect prediction."""
    return [{"image_id": a["image_id"], "category_id": a["category_id"],
             "keypoints": list(a["keypoints"]), "score": score}
            for a in data["annotations"] if a["num_keypoints"] > 0]


# CrowdPose joints from the COCO ones: head = nose, neck = between the shoulders
_FROM_COCO = [COCO.joint_names.index(n) for n in CROWDPOSE.joint_names[:12]]


def to_crowdpose(data, crowd_index=True):
    """The COCO-format synthetic annotations rewritten as a CrowdPose file (14 joints, its
    names, num_keypoints counting visible joints, a crowdIndex per image unless told not)."""
    out = json.loads(json.dumps(data))
    out["categories"] = [{"id": 1, "name": "person", "supercategory": "person",
                          "keypoints": list(CROWDPOSE.joint_names),
                          "skeleton": [[a + 1, b + 1] for a, b in CROWDPOSE.skeleton]}]
    for i, image in enumerate(out["images"]):
        if crowd_index:
            image["crowdIndex"] = (0.05, 0.5, 0.9)[i % 3]  # easy, medium, hard
    for ann in out["annotations"]:
        k = [ann["keypoints"][3 * j:3 * j + 3] for j in range(COCO.num_joints)]
        joints = [k[j] for j in _FROM_COCO] + [k[0]]
        ls, rs = k[COCO.joint_names.index("left_shoulder")], k[COCO.joint_names.index("right_shoulder")]
        if ls[2] > 0 and rs[2] > 0:
            joints.append([(ls[0] + rs[0]) / 2, (ls[1] + rs[1]) / 2, min(ls[2], rs[2])])
        else:
            joints.append([0, 0, 0])
        ann["keypoints"] = [v for joint in joints for v in joint]
        ann["num_keypoints"] = sum(1 for joint in joints if joint[2] == 2)
        del ann["area"], ann["segmentation"]  # CrowdPose files have neither
    return out


@pytest.fixture(scope="session")
def coco_data():
    return json.loads(ANNOTATIONS.read_text())


@pytest.fixture
def crowdpose_file(tmp_path, coco_data):
    path = tmp_path / "crowdpose.json"
    path.write_text(json.dumps(to_crowdpose(coco_data)))
    return path


def _tiny(path, num_joints=17):
    # a high peak threshold keeps the random-weight model to a few candidates per joint, so
    # decoding (most of the time of a random model) stays quick
    info = make_info(num_joints, decode=DecodeDefaults(detection_threshold=0.5, max_num_people=10))
    return build_tiny_model(path, info)


@pytest.fixture(scope="session")
def tiny_coco_model(tmp_path_factory):
    """A tiny random-weight 17-joint ONNX model (real ONNX Runtime graph, input size 128)."""
    return _tiny(tmp_path_factory.mktemp("models") / "tiny_coco.onnx")


@pytest.fixture(scope="session")
def tiny_crowdpose_model(tmp_path_factory):
    return _tiny(tmp_path_factory.mktemp("models") / "tiny_crowdpose.onnx", 14)


@pytest.fixture
def image_copy(tmp_path):
    """A writable copy of the shipped images."""
    folder = tmp_path / "images"
    shutil.copytree(IMAGES, folder)
    return folder
