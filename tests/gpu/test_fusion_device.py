"""Device fusion against swahr_infer.fusion.fuse."""

import numpy as np
import pytest

from swahr_infer.errors import ModelError, OutputError
from swahr_infer.fusion import fuse
from swahr_infer.gpu.fusion import fuse_device
from swahr_infer.preprocess import plan_scales
from swahr_infer.skeleton import COCO

pytestmark = pytest.mark.gpu


def _outputs(geometries, flip, seed, scales_output=False):
    rng = np.random.default_rng(seed)
    n = 2 if flip else 1
    per_scale = []
    for g in geometries:
        w, h = g.size[0] // 2, g.size[1] // 2
        out = {"heatmaps": rng.random((n, 17, h, w), dtype=np.float32),
               "tags": rng.normal(0, 1, (n, 17, h, w)).astype(np.float32)}
        if scales_output:
            out["scales"] = rng.normal(0, 0.3, (n, 17, h, w)).astype(np.float32)
        per_scale.append((g.factor, out))
    return per_scale


@pytest.mark.parametrize("hw", [(480, 640), (333, 201)])
@pytest.mark.parametrize("scales", [(1.0,), (2.0, 1.0, 0.5), (1.0, 0.5)])
@pytest.mark.parametrize("flip", [True, False])
def test_fusion_matches_cpu(cp, hw, scales, flip):
    geometries, projected, _ = plan_scales(hw, 256, scales)
    per_scale = _outputs(geometries, flip, seed=len(scales), scales_output=True)
    expected = fuse(per_scale, flip_index=COCO.flip_index, flip=flip, projected_size=projected)
    device = [(f, {k: cp.asarray(v) for k, v in out.items()}) for f, out in per_scale]
    maps = fuse_device(device, flip_index=COCO.flip_index, flip=flip, projected_size=projected)
    maps.check_finite()
    got = maps.to_host()
    np.testing.assert_allclose(got.heatmaps, expected.heatmaps, rtol=0, atol=1e-5)
    np.testing.assert_allclose(got.tags, expected.tags, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(got.scale_map, expected.scale_map)


def test_workspace_reuse_and_nonfinite_flag(cp):
    geometries, projected, _ = plan_scales((200, 300), 256, (1.0,))
    per_scale = _outputs(geometries, True, seed=3)
    device = [(f, {k: cp.asarray(v) for k, v in out.items()}) for f, out in per_scale]
    first = fuse_device(device, flip_index=COCO.flip_index, flip=True, projected_size=projected)
    first.check_finite()
    device[0][1]["tags"][1, 3, 5, 7] = np.inf
    again = fuse_device(device, flip_index=COCO.flip_index, flip=True, projected_size=projected,
                        out=first)
    assert again.heatmaps is first.heatmaps  # buffers reused
    with pytest.raises(OutputError, match="non-finite"):
        again.check_finite()


def test_shapes_and_missing_scale_one(cp):
    geometries, projected, _ = plan_scales((200, 300), 256, (2.0, 0.5))
    per_scale = _outputs(geometries, True, seed=4)
    device = [(f, {k: cp.asarray(v) for k, v in out.items()}) for f, out in per_scale]
    with pytest.raises(ValueError, match="1.0"):
        fuse_device(device, flip_index=COCO.flip_index, flip=True, projected_size=projected)
    with pytest.raises(ModelError, match="shape"):
        fuse_device(device, flip_index=COCO.flip_index, flip=False, projected_size=projected)
