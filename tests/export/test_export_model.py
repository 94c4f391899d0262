"""The PyTorch network: official parameter counts, state-dict names/shapes, stage outputs."""

import pytest

torch = pytest.importorskip("torch")

from export.model import ARCHS, ArchConfig, HigherHRNet, build_model, count_parameters  # noqa: E402

# Parameter counts of the official models (SPEC.md: W32 28.6 M, W48 63.8 M), exact values
# as counted on the official PoseHigherResolutionNet built from its experiment configs.
OFFICIAL_PARAMETERS = {"w32": 28_649_309, "w48": 63_831_661, "crowdpose-w48": 63_825_814}


@pytest.mark.parametrize("name", sorted(OFFICIAL_PARAMETERS))
def test_official_parameter_counts_and_outputs(name):
    model = build_model(name).eval()
    assert count_parameters(model) == OFFICIAL_PARAMETERS[name]
    assert len(model.state_dict()) == 1828
    k = model.cfg.num_joints
    with torch.no_grad():
        stage0, stage1 = model(torch.randn(1, 3, 64, 32))
    assert stage0.shape == (1, 3 * k, 16, 8) and stage1.shape == (1, 2 * k, 32, 16)


def test_w32_known_keys_and_shapes():
    state = build_model("w32").state_dict()
    expected = {
        "conv1.weight": (64, 3, 3, 3),
        "bn2.running_var": (64,),
        "layer1.0.downsample.0.weight": (256, 64, 1, 1),
        "layer1.3.conv3.weight": (256, 64, 1, 1),
        "transition1.0.0.weight": (32, 256, 3, 3),
        "transition1.1.0.0.weight": (64, 256, 3, 3),
        "transition3.3.0.0.weight": (256, 128, 3, 3),
        "stage3.3.branches.2.3.conv2.weight": (128, 128, 3, 3),
        "stage4.1.fuse_layers.3.0.2.0.weight": (256, 32, 3, 3),
        "stage4.1.fuse_layers.0.3.0.weight": (32, 256, 1, 1),
        "final_layers.0.weight": (34, 32, 1, 1),
        "final_layers.1.bias": (17,),
        "deconv_layers.0.0.0.weight": (66, 32, 4, 4),
        "deconv_layers.0.4.0.bn2.weight": (32,),
        "conv_scale_layers.0.0.weight": (17, 32, 1, 1),
        "conv_scale_layers.0.1.running_mean": (17,),
        "conv_scale_layers.1.3.weight": (17, 1, 9, 9),
        "conv_scale_layers.1.3.bias": (17,),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    # the last module of stage 4 fuses only into the highest resolution
    assert not any(k.startswith("stage4.2.fuse_layers.1.") for k in state)
    assert any(k.startswith("stage4.1.fuse_layers.3.") for k in state)
    assert "deconv_layers.0.5.0.conv1.weight" not in state


def test_plain_higherhrnet_is_swahr_without_scale_heads():
    swahr = build_model("w8-tiny").state_dict()
    plain = build_model(ArchConfig("plain", 8, stage_modules=(1, 1, 1), stage_blocks=(1, 1, 1),
                                   stem_blocks=1, deconv_blocks=1, scale_heads=False)).state_dict()
    assert set(plain) == {k for k in swahr if not k.startswith("conv_scale_layers.")}


@pytest.mark.parametrize("name", sorted(set(ARCHS) - set(OFFICIAL_PARAMETERS)))
def test_stage_outputs(name):
    cfg = ARCHS[name]
    model = build_model(name).eval()
    k = cfg.num_joints
    with torch.no_grad():
        stage0, stage1 = model(torch.randn(2, 3, 64, 96))
    assert stage0.shape == (2, 3 * k, 16, 24)  # scale, heatmaps, tags at 1/4
    assert stage1.shape == (2, 2 * k, 32, 48)  # scale, heatmaps at 1/2


def test_stage_outputs_without_scale_heads(randomise):
    cfg = ArchConfig("plain", 8, num_joints=14, stage_modules=(1, 1, 1), stage_blocks=(1, 1, 1),
                     stem_blocks=1, deconv_blocks=1, scale_heads=False)
    with torch.no_grad():
        stage0, stage1 = randomise(build_model(cfg))(torch.randn(1, 3, 64, 64))
    assert stage0.shape == (1, 28, 16, 16) and stage1.shape == (1, 14, 32, 32)


def test_scale_channels_come_first(tiny_model):
    """Stage outputs are [scale, heatmaps(, tags)]: the heatmap/tag channels equal the plain
    heads' outputs and the scale channels the scale heads' outputs."""
    x = torch.randn(1, 3, 64, 64)
    features = {}
    tiny_model.final_layers[0].register_forward_hook(lambda m, i, o: features.update(f0=o))
    tiny_model.conv_scale_layers[1].register_forward_hook(lambda m, i, o: features.update(s1=o))
    try:
        with torch.no_grad():
            stage0, stage1 = tiny_model(x)
    finally:
        tiny_model.final_layers[0]._forward_hooks.clear()
        tiny_model.conv_scale_layers[1]._forward_hooks.clear()
    assert torch.equal(stage0[:, 17:], features["f0"])
    assert torch.equal(stage1[:, :17], features["s1"])


def test_strict_round_trip(tmp_path, tiny_model):
    path = tmp_path / "tiny.pth"
    torch.save(tiny_model.state_dict(), path)
    fresh = build_model("w8-tiny")
    fresh.load_state_dict(torch.load(path, weights_only=True), strict=True)
    fresh.eval()
    x = torch.randn(1, 3, 96, 64)
    with torch.no_grad():
        for a, b in zip(tiny_model(x), fresh(x)):
            assert torch.equal(a, b)


def test_registry_is_data():
    assert {"w32", "w48", "crowdpose-w48", "w16-small", "w8-tiny"} <= set(ARCHS)
    assert ARCHS["w32"].input_size == 512 and ARCHS["w48"].input_size == 640
    assert ARCHS["crowdpose-w48"].num_joints == 14
    assert isinstance(build_model(ARCHS["w8-tiny"]), HigherHRNet)
    with pytest.raises(KeyError, match="unknown architecture"):
        build_model("w64")
