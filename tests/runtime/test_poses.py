"""The Poses result type: equality, concatenation, COCO entries, and what ``swahr_infer.decode``
is (the decoding module, whatever was imported before)."""

import subprocess
import sys

import numpy as np
import pytest

from swahr_infer.poses import Poses
from swahr_infer.skeleton import CROWDPOSE


def _poses(n=2, seed=0, scales=False):
    rng = np.random.default_rng(seed)
    keypoints = rng.uniform(0, 100, (n, 17, 3)).astype(np.float32)
    extra = np.full((n, 17), np.nan, np.float32) if scales else None
    return Poses(keypoints, rng.uniform(0, 1, n), keypoint_scales=extra)


def test_equality_compares_the_contents():
    assert Poses.empty() == Poses.empty()
    assert _poses() == _poses() and _poses(scales=True) == _poses(scales=True)  # NaN == NaN
    assert _poses() != _poses(seed=1)
    assert _poses() != _poses(scales=True)
    assert _poses(n=0) != Poses.empty(CROWDPOSE.joint_names, CROWDPOSE.skeleton)
    assert _poses() != "poses"
    with pytest.raises(TypeError):
        hash(_poses())


def test_concatenate_needs_at_least_one_item():
    both = Poses.concatenate([_poses(2), _poses(1, seed=1)])
    assert len(both) == 3 and both.select([0, 1]) == _poses(2)
    with pytest.raises(ValueError, match="at least one Poses"):
        Poses.concatenate([])


@pytest.mark.parametrize("image_id", [1.7, "abc", "1", True, None])
def test_to_coco_takes_integer_ids_only(image_id):
    with pytest.raises(TypeError, match="image_id must be an integer"):
        _poses().to_coco(image_id)


def test_to_coco_entries_are_plain_json_types():
    entries = _poses().to_coco(np.int64(7), category_id=np.int32(1))
    assert [type(e["image_id"]) for e in entries] == [int, int]
    assert all(type(v) is float for v in entries[0]["keypoints"] + [entries[0]["score"]])


def test_swahr_infer_decode_is_the_module_whatever_was_imported_first():
    code = ("import swahr_infer; first = swahr_infer.decode; import swahr_infer.estimator; "
            "import swahr_infer.decode as module; "
            "assert first is module is swahr_infer.decode, (first, module); "
            "assert callable(module.decode) and module.DecodeParams; "
            "from swahr_infer import decode; assert decode is module")
    subprocess.run([sys.executable, "-c", code], check=True)
