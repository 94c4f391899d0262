"""Fusion over flip and scales, against a PyTorch transcription of the official rules."""

import numpy as np
import pytest

from swahr_infer.errors import ModelError, OutputError
from swahr_infer.fusion import fuse, scale_heatmaps
from swahr_infer.skeleton import COCO

FLIP = list(COCO.flip_index)
K = len(FLIP)


def smooth_maps(n, h, w, seed):
    """[n, K, h, w] float32 smooth random maps (bilinear differences stay at rounding level)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.zeros((n, K, h, w), np.float32)
    for i in range(n):
        for k in range(K):
            fx, fy, px, py = rng.uniform(0.05, 0.3, 2).tolist() + rng.uniform(0, 6, 2).tolist()
            out[i, k] = 0.5 + 0.4 * np.sin(fx * xs + px) * np.cos(fy * ys + py)
    return out


def official_reference(per_scale, projected_size, flip):
    """The official get_multi_stage_outputs / aggregate_results rules, in torch.

    Each scale: mirror flipped back and reordered; image and mirror projected separately,
    averaged; sum over scales in the given (descending) order, divided by their number; tags
    of scale 1.0 (or the only scale), image and mirror on a last axis.
    """
    torch = pytest.importorskip("torch")
    from torch.nn.functional import interpolate

    width, height = projected_size
    final, tags_list = None, []
    for factor, outputs in per_scale:
        hm = torch.from_numpy(outputs["heatmaps"])
        tg = torch.from_numpy(outputs["tags"])
        heat = [hm[:1]]
        tags = [tg[:1]]
        if flip:
            heat.append(torch.flip(hm[1:2], [3])[:, FLIP])
            tags.append(torch.flip(tg[1:2], [3])[:, FLIP])
        heat = [interpolate(h, size=(height, width), mode="bilinear", align_corners=False)
                for h in heat]
        tags = [interpolate(t, size=(height, width), mode="bilinear", align_corners=False)
                for t in tags]
        if factor == 1 or len(per_scale) == 1:
            tags_list += [t.unsqueeze(4) for t in tags]
        avg = (heat[0] + heat[1]) / 2.0 if flip else heat[0]
        final = avg if final is None else final + avg
    final = final / float(len(per_scale))
    return final[0].numpy(), torch.cat(tags_list, dim=4)[0].numpy()


@pytest.mark.parametrize("flip", [True, False])
def test_single_scale_matches_the_official_rules(flip):
    n = 2 if flip else 1
    outputs = {"heatmaps": smooth_maps(n, 16, 24, 0), "tags": smooth_maps(n, 16, 24, 1) * 3}
    fused = fuse([(1.0, outputs)], flip_index=FLIP, flip=flip, projected_size=(48, 32))
    heat_ref, tags_ref = official_reference([(1.0, outputs)], (48, 32), flip)
    assert fused.heatmaps.shape == (K, 32, 48) and fused.heatmaps.dtype == np.float32
    assert fused.tags.shape == (K, 32, 48, n)
    np.testing.assert_allclose(fused.heatmaps, heat_ref, atol=1e-6, rtol=0)
    np.testing.assert_allclose(fused.tags, tags_ref, atol=1e-6, rtol=0)
    assert fused.heatmaps.flags.c_contiguous and fused.tags.flags.c_contiguous


def test_multi_scale_matches_the_official_rules():
    # scales (2, 1, 0.5) of a 192 x 128 projected size: network outputs at half resolution
    per_scale = [
        (2.0, {"heatmaps": smooth_maps(2, 128, 192, 2), "tags": smooth_maps(2, 128, 192, 3)}),
        (1.0, {"heatmaps": smooth_maps(2, 64, 96, 4), "tags": smooth_maps(2, 64, 96, 5)}),
        (0.5, {"heatmaps": smooth_maps(2, 32, 48, 6), "tags": smooth_maps(2, 32, 48, 7)}),
    ]
    fused = fuse(per_scale, flip_index=FLIP, flip=True, projected_size=(192, 128))
    heat_ref, tags_ref = official_reference(per_scale, (192, 128), True)
    np.testing.assert_allclose(fused.heatmaps, heat_ref, atol=2e-6, rtol=0)
    np.testing.assert_allclose(fused.tags, tags_ref, atol=2e-6, rtol=0)


def test_tags_come_from_scale_one_only_and_heatmaps_average_over_scales():
    h1 = smooth_maps(2, 8, 8, 0)
    t1 = smooth_maps(2, 8, 8, 1)
    base = [(1.0, {"heatmaps": h1, "tags": t1}),
            (0.5, {"heatmaps": smooth_maps(2, 4, 4, 2), "tags": smooth_maps(2, 4, 4, 3)})]
    other = [(1.0, {"heatmaps": h1, "tags": t1}),
             (0.5, {"heatmaps": smooth_maps(2, 4, 4, 2), "tags": smooth_maps(2, 4, 4, 9) + 5})]
    a = fuse(base, flip_index=FLIP, flip=True, projected_size=(16, 16))
    b = fuse(other, flip_index=FLIP, flip=True, projected_size=(16, 16))
    np.testing.assert_array_equal(a.tags, b.tags)
    np.testing.assert_array_equal(a.heatmaps, b.heatmaps)
    # heatmaps: the mean of the two scales' projected heatmaps
    one = np.empty((K, 16, 16), np.float32)
    half = np.empty((K, 16, 16), np.float32)
    scale_heatmaps(h1, FLIP, one)
    scale_heatmaps(base[1][1]["heatmaps"], FLIP, half)
    np.testing.assert_allclose(a.heatmaps, (one + half) / 2, atol=1e-7)


def test_flip_back_and_joint_reorder_undo_a_mirror():
    # a perfectly mirror-equivariant network: the mirror's output is the image's, mirrored and
    # with left / right joints swapped; fusing must give back the image's maps exactly
    heat = smooth_maps(1, 8, 12, 0)
    tags = smooth_maps(1, 8, 12, 1)

    def mirror(x):
        return x[:, FLIP, :, ::-1]

    outputs = {"heatmaps": np.concatenate([heat, mirror(heat)]),
               "tags": np.concatenate([tags, mirror(tags)])}
    fused = fuse([(1.0, outputs)], flip_index=FLIP, flip=True, projected_size=(24, 16))
    plain = fuse([(1.0, {"heatmaps": heat, "tags": tags})], flip_index=FLIP, flip=False,
                 projected_size=(24, 16))
    np.testing.assert_array_equal(fused.heatmaps, plain.heatmaps)
    np.testing.assert_array_equal(fused.tags[..., 0], fused.tags[..., 1])
    # (the no-flip path resizes single planes, the flip path two-channel slabs: OpenCV's two
    # code paths may round the last bit differently)
    np.testing.assert_allclose(fused.tags[..., :1], plain.tags, atol=2e-7, rtol=0)


def test_single_scale_other_than_one_gives_the_tags():
    """A lone scale other than 1.0 (``--scales 2``): its tags are the ones used, as the
    official rule takes "scale 1.0 or the only scale"."""
    outputs = {"heatmaps": smooth_maps(2, 8, 8, 0), "tags": smooth_maps(2, 8, 8, 1)}
    fused = fuse([(0.5, outputs)], flip_index=FLIP, flip=True, projected_size=(32, 32))
    heat_ref, tags_ref = official_reference([(0.5, outputs)], (32, 32), True)
    assert fused.tags.shape == (K, 32, 32, 2)
    np.testing.assert_allclose(fused.heatmaps, heat_ref, atol=1e-6, rtol=0)
    np.testing.assert_allclose(fused.tags, tags_ref, atol=1e-6, rtol=0)


def test_scale_map_is_the_image_item_of_scale_one():
    s = smooth_maps(2, 8, 8, 3)
    outputs = {"heatmaps": smooth_maps(2, 8, 8, 0), "tags": smooth_maps(2, 8, 8, 1), "scales": s}
    fused = fuse([(1.0, outputs)], flip_index=FLIP, flip=True, projected_size=(16, 16))
    np.testing.assert_array_equal(fused.scale_map, s[0])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_outputs_are_rejected(bad):
    heat = smooth_maps(2, 8, 8, 0)
    heat[1, 3, 2, 2] = bad
    with pytest.raises(OutputError, match="non-finite.*heatmaps"):
        fuse([(1.0, {"heatmaps": heat, "tags": smooth_maps(2, 8, 8, 1)})], flip_index=FLIP,
             flip=True, projected_size=(16, 16))


def test_wrong_shapes_are_rejected():
    """A model error (the model contradicts its metadata), not a per-image output error."""
    with pytest.raises(ModelError, match="shape"):
        fuse([(1.0, {"heatmaps": smooth_maps(2, 8, 8, 0)[:, :14],
                     "tags": smooth_maps(2, 8, 8, 1)[:, :14]})],
             flip_index=FLIP, flip=True, projected_size=(16, 16))
    with pytest.raises(ModelError, match="shape"):  # flip on, but a batch of one
        fuse([(1.0, {"heatmaps": smooth_maps(1, 8, 8, 0), "tags": smooth_maps(1, 8, 8, 1)})],
             flip_index=FLIP, flip=True, projected_size=(16, 16))


def test_several_scales_without_one_are_rejected():
    outputs = {"heatmaps": smooth_maps(2, 8, 8, 0), "tags": smooth_maps(2, 8, 8, 1)}
    with pytest.raises(ValueError, match="1.0"):
        fuse([(2.0, outputs), (0.5, outputs)], flip_index=FLIP, flip=True,
             projected_size=(16, 16))


def test_two_step_tag_resize_of_a_real_graph(tmp_path):
    """Stage-0 tags: 1/4 -> 1/2 inside the graph, 1/2 -> projected size in fusion."""
    torch = pytest.importorskip("torch")
    import onnxruntime as ort
    from torch.nn.functional import interpolate

    from swahr_infer.preprocess import prepare

    from .conftest import blob_image
    from .tiny_model import build_tiny_model

    path = build_tiny_model(tmp_path / "q.onnx", quarter_tags_output=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    prepared = prepare(blob_image(96, 128)[:, :, ::-1], input_size=128, scales=(1.0,),
                       mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    heat, tags, quarter = session.run(["heatmaps", "tags", "t4"], {"image": prepared.batches[0]})
    assert quarter.shape[2:] == (32, 48) and tags.shape[2:] == (64, 96)
    fused = fuse([(1.0, {"heatmaps": heat, "tags": tags})], flip_index=FLIP, flip=True,
                 projected_size=prepared.projected_size)
    q = torch.from_numpy(quarter)
    half = interpolate(q, size=(64, 96), mode="bilinear", align_corners=False)
    full = interpolate(half, size=(128, 192), mode="bilinear", align_corners=False).numpy()
    expected = np.stack([full[0], full[1][FLIP][:, :, ::-1]], axis=-1)
    np.testing.assert_allclose(fused.tags, expected, atol=1e-5, rtol=0)


def test_workspace_buffers_are_reused_and_give_the_same_maps():
    outputs = {"heatmaps": smooth_maps(2, 8, 8, 0), "tags": smooth_maps(2, 8, 8, 1)}
    plain = fuse([(1.0, outputs)], flip_index=FLIP, flip=True, projected_size=(16, 16))
    workspace = {}
    first = fuse([(1.0, outputs)], flip_index=FLIP, flip=True, projected_size=(16, 16),
                 workspace=workspace)
    heat_buffer = first.heatmaps
    second = fuse([(1.0, outputs)], flip_index=FLIP, flip=True, projected_size=(16, 16),
                  workspace=workspace)
    assert second.heatmaps is heat_buffer and second.tags is first.tags
    np.testing.assert_array_equal(second.heatmaps, plain.heatmaps)
    np.testing.assert_array_equal(second.tags, plain.tags)
    other = fuse([(1.0, outputs)], flip_index=FLIP, flip=True, projected_size=(24, 16),
                 workspace=workspace)
    assert other.heatmaps.shape == (K, 16, 24)
