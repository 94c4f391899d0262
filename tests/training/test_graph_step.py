"""export.graph_step on the CPU: what can be checked without a GPU (the optimiser-state
conversions, the static batch, the refusals); tests/gpu/test_graph_step.py replays real graphs."""

import pytest
import torch

from export.graph_step import StaticBatch, capturable_adam, portable_state
from export.train import TrainConfig, train
from swahr_infer.cli import main as cli_main


def _trained_adam(lr=1e-3):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    adam = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.8, 0.95))
    for _ in range(2):
        adam.zero_grad()
        model(torch.randn(2, 3, 8, 8)).square().mean().backward()
        adam.step()
    return model, adam


def test_a_plain_adams_portable_state_is_its_state_dict():
    """Checkpoints of runs without graphs are what they were before graphs existed."""
    _, adam = _trained_adam()
    plain, portable = adam.state_dict(), portable_state(adam)
    assert portable["param_groups"] == plain["param_groups"]
    assert plain["state"].keys() == portable["state"].keys()
    for key, value in plain["state"].items():
        assert value.keys() == portable["state"][key].keys()
        assert all(torch.equal(value[name], portable["state"][key][name]) for name in value)


def test_capturable_adam_carries_the_settings_and_state_over_and_back():
    _, adam = _trained_adam(lr=2.5e-4)
    captured = capturable_adam(adam)
    group = captured.param_groups[0]
    assert group["capturable"] is True and group["betas"] == (0.8, 0.95)
    assert isinstance(group["lr"], torch.Tensor) and group["lr"].item() == pytest.approx(2.5e-4)
    assert group["params"] == adam.param_groups[0]["params"]  # the same parameter tensors
    back, plain = portable_state(captured), adam.state_dict()
    assert back["param_groups"][0]["capturable"] is False
    assert back["param_groups"][0]["lr"] == pytest.approx(2.5e-4)  # float32 on the device, a float here
    for key, value in plain["state"].items():
        assert all(torch.equal(value[name], back["state"][key][name]) for name in value)
        assert back["state"][key]["step"].device.type == "cpu"
    # its own copy of the state: stepping one optimiser does not move the other's moments
    for param in group["params"]:
        assert captured.state[param]["exp_avg"].data_ptr() != adam.state[param]["exp_avg"].data_ptr()
    # a plain Adam takes the converted state back (what resuming without graphs does)
    torch.optim.Adam(group["params"], lr=1.0).load_state_dict(back)


def test_static_batch_copies_into_the_tensors_it_first_allocated():
    static = StaticBatch()
    first = {"images": torch.zeros(2, 3), "heatmaps": [torch.zeros(2), torch.zeros(3)]}
    held = static.load(first)
    assert held["images"] is not first["images"]  # its own tensors, not the caller's
    images, heatmap = held["images"], held["heatmaps"][1]
    second = {"images": torch.ones(2, 3), "heatmaps": [torch.full((2,), 2.0), torch.full((3,), 3.0)]}
    assert static.load(second) is held
    assert held["images"] is images and held["heatmaps"][1] is heatmap
    assert torch.equal(images, second["images"]) and torch.equal(heatmap, second["heatmaps"][1])
    assert torch.equal(first["images"], torch.zeros(2, 3))  # the first batch was not written to


def test_cuda_graphs_are_refused_on_the_cpu(tmp_path, capsys):
    cfg = TrainConfig(arch="w8-tiny", iters=1, batch_size=2, input_size=64, device="cpu",
                      cuda_graphs=True, out_dir=str(tmp_path / "a"), progress=False)
    with pytest.raises(ValueError, match="CUDA graphs need a CUDA device"):
        train(cfg)
    rc = cli_main(["train", "--arch", "w8-tiny", "--iters", "1", "--input-size", "64", "--device", "cpu",
                   "--cuda-graphs", "--out", str(tmp_path / "b"), "--no-progress"])
    assert rc == 1 and "--cuda-graphs needs a CUDA GPU" in capsys.readouterr().err
    assert not (tmp_path / "b" / "model_final.pth").exists()
