"""Fixtures of the batch tests: a tiny model, a folder of synthetic people with a corrupt file,
and the single-process poses to compare with."""

import cv2
import numpy as np
import pytest

from export.synthetic_people import SceneConfig, sample
from runtime.tiny_model import build_tiny_model

# few figures, little clutter: the random tiny model then finds tens of "persons", not hundreds,
# and decoding stays quick
SCENE = SceneConfig(people=(1, 3), clutter=(0, 1), noise=(0.0, 0.5))
ESTIMATOR_OPTIONS = {"threads": 1, "device": "cpu"}


@pytest.fixture(scope="session")
def batch_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("batch_model") / "tiny.onnx")


@pytest.fixture(scope="session")
def people_dir(tmp_path_factory):
    """Six synthetic-people images (two sizes, one in a subfolder, numeric and other names),
    one corrupt JPEG and one text file (not listed)."""
    folder = tmp_path_factory.mktemp("people")
    (folder / "sub").mkdir()
    names = ["000042.png", "b.jpg", "c.png", "d.png", "sub/e.png", "sub/f.jpg"]
    for i, name in enumerate(names):
        rgb, _ = sample(np.random.default_rng([11, i]), size=(128, 96) if i % 2 else (96, 128),
                        config=SCENE)
        assert cv2.imwrite(str(folder / name), np.ascontiguousarray(rgb[:, :, ::-1]))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated, not a JPEG")
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture(scope="session")
def expected(batch_model, people_dir):
    """path -> Poses of the single-process Estimator, same model and options."""
    from swahr_infer import Estimator
    from swahr_infer.batch import list_images

    with Estimator(batch_model, **ESTIMATOR_OPTIONS) as estimator:
        return {path: estimator.predict(path) for path in list_images(people_dir)
                if not path.endswith("broken.jpg")}


def assert_rows_match(rows, expected):
    """Each successful row holds exactly the single-process poses of its image."""
    for row in rows:
        if row["error"] is not None:
            continue
        poses = expected[row["path"]]
        keypoints = np.asarray(row["keypoints"], np.float32).reshape(-1, poses.num_joints, 3)
        assert row["num_persons"] == len(poses) > 0
        np.testing.assert_array_equal(keypoints, poses.keypoints)
        np.testing.assert_array_equal(np.asarray(row["scores"], np.float32), poses.scores)
