"""Our training targets and objectives against the official SWAHR code itself
(lib/dataset/target_generators, lib/core/loss.py).

Skipped unless ``SWAHR_OFFICIAL_REPO`` points to a checkout of greatlog/SWAHR-HumanPose (or the
``.official`` copy that scripts/gpu_prepare.sh stages)::

    SWAHR_OFFICIAL_REPO=/path/to/SWAHR-HumanPose python -m pytest tests/training/test_official_parity.py

The targets: the official heatmap and joint generators given the keypoints of our synthetic
scenes (scaled to each output as the official affine does for an unrotated crop) give our
stage targets exactly.  The loss: the official module is loaded from its file and fed the very
batches our trainer draws
(synthetic scenes, our target generator, our joint indices); its loss factors come from the
official W32 experiment file.  What it checks: the total the official trainer backpropagates
(per stage: batch means of heatmap + scale + push + pull) and its gradient with respect to every
network output equal ours, which is what makes our SAHR / WAHR arm the paper's.
"""

import types
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
yaml = pytest.importorskip("yaml")

from export.losses import LossConfig, SwahrLoss  # noqa: E402
from export.synthetic_people import SceneConfig, render_scene  # noqa: E402
from export.targets import keypoints_to_output, stage_targets  # noqa: E402
from export.train import TrainConfig, make_batch  # noqa: E402
from tests.official_code import REPO, load_official, requires_official  # noqa: E402

pytestmark = requires_official
K = 17



@pytest.fixture(scope="module")
def official():
    module = load_official("lib/core/loss.py", "swahr_official_loss")
    # its AE loss returns zeros for images with fewer than two people through make_input(...),
    # which moves them to CUDA; the values are the same on the CPU
    module.make_input = lambda t, requires_grad=False, need_cuda=True: t.sum()
    return module


@pytest.fixture(scope="module")
def w32_loss_config():
    text = (Path(REPO) / "experiments/coco/higher_hrnet/w32_512_adam_lr1e-3.yaml").read_text()
    loss = yaml.safe_load(text)["LOSS"]
    return types.SimpleNamespace(MODEL=types.SimpleNamespace(NUM_JOINTS=K),
                                 LOSS=types.SimpleNamespace(**loss))


def trainer_batch(seed):
    """A batch exactly as our trainer builds it, and network outputs drawn at random."""
    cfg = TrainConfig(batch_size=3, input_size=128, people=(1, 5), seed=seed)
    batch = make_batch(cfg, 0)
    gen = torch.Generator().manual_seed(seed)
    outputs = []
    for s, res in enumerate(cfg.output_sizes):
        channels = 3 * K if s == 0 else 2 * K
        out = torch.rand(cfg.batch_size, channels, res, res, generator=gen, dtype=torch.float64)
        out[:, :K] -= 0.5  # scale channels: either sign
        outputs.append(out.float().requires_grad_())
    as_tensors = {key: [torch.from_numpy(x) for x in value] for key, value in batch.items() if key != "images"}
    return outputs, as_tensors["heatmaps"], as_tensors["masks"], as_tensors["indices"]


def official_total(module, cfg, outputs, heatmaps, masks, indices):
    """What the official trainer (lib/core/trainer.py) backpropagates."""
    factory = module.MultiLossFactory(cfg)
    heatmaps_losses, scale_losses, push_losses, pull_losses = factory(outputs, heatmaps, masks, indices)
    total = 0
    for s in range(len(outputs)):
        total = total + heatmaps_losses[s].mean(dim=0) + scale_losses[s].mean(dim=0)
        if push_losses[s] is not None:
            total = total + push_losses[s].mean(dim=0) + pull_losses[s].mean(dim=0)
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_total_loss_and_its_gradients_equal_the_official_code(official, w32_loss_config, seed):
    outputs, heatmaps, masks, indices = trainer_batch(seed)
    assert sum(int((idx[..., 1] > 0).sum()) for idx in indices) > 0  # people were labelled
    ours = SwahrLoss(LossConfig(num_joints=K))(outputs, heatmaps, masks, indices).total
    theirs = official_total(official, w32_loss_config, outputs, heatmaps, masks, indices)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-9)
    grads_ours = torch.autograd.grad(ours, outputs)
    grads_theirs = torch.autograd.grad(theirs, outputs)
    for g_ours, g_theirs in zip(grads_ours, grads_theirs):
        assert g_ours.abs().max() > 0
        torch.testing.assert_close(g_ours, g_theirs, rtol=1e-4, atol=1e-9)


def test_factors_are_read_from_the_official_experiment(w32_loss_config):
    cfg = LossConfig(num_joints=K)
    assert list(w32_loss_config.LOSS.PUSH_LOSS_FACTOR) == [0.001, 0.001]
    assert list(w32_loss_config.LOSS.WITH_AE_LOSS) == [True, False]
    assert cfg.push_factors[0] == w32_loss_config.LOSS.PUSH_LOSS_FACTOR[0]


@pytest.mark.parametrize("seed", [3, 4, 5, 6])
def test_targets_equal_the_official_generators(seed):
    generators = load_official("lib/dataset/target_generators/target_generators.py",
                               "swahr_official_targets")
    rng = np.random.default_rng(seed)
    size = 128
    keypoints = render_scene(rng, (size, size), SceneConfig(people=(2, 6))).keypoints
    # a few joints just outside the frame, at fractional negative positions and invisible
    keypoints[0, 0, :2] = (-0.4, 5.5)
    keypoints[0, 1, :2] = (size + 3.0, 10.0)
    keypoints[-1, 2, 2] = 0
    heatmaps, indices = stage_targets(keypoints, size, (size // 4, size // 2), 2.0, 30)
    for res, hm, idx in zip((size // 4, size // 2), heatmaps, indices):
        joints = keypoints_to_output(keypoints, size, res)
        expected_hm = generators.HeatmapGenerator(res, K, 2)(joints)
        expected_idx = generators.JointsGenerator(30, K, res, True)(joints)
        assert expected_hm.max() == 1.0
        np.testing.assert_array_equal(hm, expected_hm)
        np.testing.assert_array_equal(idx, expected_idx.astype(np.int64))
