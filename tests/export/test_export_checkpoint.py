"""Checkpoint loading: wrappers, prefixes, architecture inference, one clear error per problem."""

import argparse

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from export.checkpoint import infer_arch, info_for, load_checkpoint, read_state_dict  # noqa: E402
from export.model import ARCHS, ArchConfig, build_model  # noqa: E402
from swahr_infer.errors import CheckpointError  # noqa: E402
from swahr_infer.skeleton import COCO, CROWDPOSE  # noqa: E402


def outputs(model, x):
    with torch.no_grad():
        return model(x)


def same_outputs(a, b):
    x = torch.randn(1, 3, 64, 96)
    return all(torch.equal(p, q) for p, q in zip(outputs(a, x), outputs(b, x)))


def test_plain_state_dict(tiny_checkpoint, tiny_model):
    model, info = load_checkpoint(tiny_checkpoint)
    assert not model.training
    assert model.cfg.name == "w8-tiny" and info.arch == "w8-tiny"
    assert info.has_scale_heads and info.num_joints == 17 and info.dataset == "coco"
    assert same_outputs(model, tiny_model)


def test_training_checkpoint_with_module_prefix(tmp_path, tiny_model):
    """The official trainer's layout: DataParallel keys under 'state_dict', a model *name* under
    'model', plus epoch, a numpy score and the optimizer state."""
    state = {"module." + k: v for k, v in tiny_model.state_dict().items()}
    optimizer = torch.optim.Adam(tiny_model.parameters())
    path = tmp_path / "checkpoint.pth.tar"
    torch.save({"epoch": 3, "model": "pose_higher_hrnet", "state_dict": state,
                "perf": np.float64(0.5), "optimizer": optimizer.state_dict()}, path)
    model, info = load_checkpoint(path)
    assert info.arch == "w8-tiny"
    assert same_outputs(model, tiny_model)


def test_model_wrapper(tmp_path, tiny_model):
    path = tmp_path / "wrapped.pt"
    torch.save({"model": tiny_model.state_dict()}, path)
    assert same_outputs(load_checkpoint(path)[0], tiny_model)


def test_missing_num_batches_tracked_is_fine(tmp_path, tiny_model):
    state = {k: v for k, v in tiny_model.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    path = tmp_path / "old.pth"
    torch.save(state, path)
    assert same_outputs(load_checkpoint(path)[0], tiny_model)


def test_higherhrnet_without_scale_heads(tmp_path, randomise):
    cfg = ArchConfig("x", 8, stage_modules=(1, 1, 1), stage_blocks=(1, 1, 1), stem_blocks=1,
                     deconv_blocks=1, scale_heads=False)
    plain = randomise(build_model(cfg))
    path = tmp_path / "higherhrnet.pth"
    torch.save(plain.state_dict(), path)
    model, info = load_checkpoint(path)
    assert model.cfg.name == "w8-tiny" and not model.cfg.scale_heads
    assert not info.has_scale_heads
    assert same_outputs(model, plain)
    # an explicit arch keeps the scale-head presence of the file
    model, info = load_checkpoint(path, arch="w8-tiny")
    assert not info.has_scale_heads


@pytest.mark.parametrize("name, size, threshold, dataset", [
    ("w32", 512, 0.12, COCO), ("w48", 640, 0.10, COCO), ("crowdpose-w48", 640, 0.10, CROWDPOSE)])
def test_official_arch_inferred_with_decoding_defaults(name, size, threshold, dataset):
    state = {"module." + k: v for k, v in build_model(name).state_dict().items()}
    from export.checkpoint import strip_prefix
    cfg = infer_arch(strip_prefix(state))
    assert cfg == ARCHS[name]
    info = info_for(cfg)
    assert (info.arch, info.input_size, info.decode.detection_threshold) == (name, size, threshold)
    assert info.dataset == dataset.name and info.flip_index == dataset.flip_index
    assert info.num_joints == len(dataset.joint_names)


def test_custom_structure_is_inferred(tmp_path):
    cfg = ArchConfig("mine", 8, stage_modules=(1, 2, 1), stage_blocks=(2, 1, 1), stem_blocks=2,
                     deconv_blocks=3)
    path = tmp_path / "custom.pth"
    torch.save(build_model(cfg).state_dict(), path)
    model, info = load_checkpoint(path)
    assert info.arch == "custom"
    assert model.cfg.structure() == cfg.structure()


def test_arch_override_mismatch_names_keys(tiny_checkpoint):
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tiny_checkpoint, arch="w32")
    message = str(err.value)
    assert "w32" in message and "missing: layer1.1.conv1.weight" in message
    assert "transition1.0.0.weight [8, 256, 3, 3] vs [32, 256, 3, 3]" in message
    assert "\n" not in message


def test_wrong_keys(tmp_path, tiny_model):
    state = dict(tiny_model.state_dict())
    del state["stage3.0.branches.1.0.conv2.weight"]
    state["extra.weight"] = torch.zeros(1)
    state["final_layers.1.bias"] = torch.zeros(5)
    path = tmp_path / "wrong.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert "1 missing: stage3.0.branches.1.0.conv2.weight" in message
    assert "1 unexpected: extra.weight" in message
    assert "final_layers.1.bias [5] vs [17]" in message


@pytest.mark.parametrize("content, match", [
    (b"", "empty or truncated"),
    (b"this is text, not weights\n" * 4, "neither a zip archive nor a pickle"),
])
def test_not_a_checkpoint(tmp_path, content, match):
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        read_state_dict(path)


def test_truncated(tmp_path, tiny_checkpoint):
    data = tiny_checkpoint.read_bytes()
    path = tmp_path / "truncated.pth"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        read_state_dict(path)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        read_state_dict(tmp_path / "nope.pth")


def test_not_a_pose_model(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save(torch.nn.Conv2d(3, 8, 3).state_dict(), path)
    with pytest.raises(CheckpointError, match="not a HigherHRNet / SWAHR checkpoint"):
        load_checkpoint(path)


def test_no_state_dict_inside(tmp_path):
    path = tmp_path / "meta.pth"
    torch.save({"epoch": 3, "model": "pose_higher_hrnet"}, path)
    with pytest.raises(CheckpointError, match="holds no state dict"):
        read_state_dict(path)


def test_pickled_objects_are_refused(tmp_path, tiny_model):
    path = tmp_path / "unsafe.pth"
    torch.save({"state_dict": tiny_model.state_dict(), "args": argparse.Namespace(lr=1)}, path)
    with pytest.raises(CheckpointError, match=r"argparse\.Namespace.*weights_only=True"):
        read_state_dict(path)


def test_unknown_arch_name(tiny_checkpoint):
    with pytest.raises(CheckpointError, match="unknown architecture 'w64'"):
        load_checkpoint(tiny_checkpoint, arch="w64")


def test_joint_count_without_layout(tmp_path):
    cfg = ArchConfig("x", 8, num_joints=5, stage_modules=(1, 1, 1), stage_blocks=(1, 1, 1),
                     stem_blocks=1, deconv_blocks=1)
    path = tmp_path / "five.pth"
    torch.save(build_model(cfg).state_dict(), path)
    with pytest.raises(CheckpointError, match="no built-in keypoint layout has 5 joints"):
        load_checkpoint(path)
