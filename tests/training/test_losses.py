"""SWAHR objectives on small hand-made cases, and the AE loss against a per-person loop."""

import math

import numpy as np
import pytest
import torch

from export.losses import (LossConfig, SwahrLoss, ae_loss, l2_heatmap_loss, sahr_targets,
                           scale_regulariser, stage_names, swahr_heatmap_loss, wahr_weights)
from export.targets import heatmap_targets, joint_indices


def gaussian_gt(k=2, res=16):
    kp = np.zeros((2, k, 3))
    kp[0, 0] = (5, 5, 2)
    kp[1, 1] = (10, 9, 2)
    return torch.from_numpy(heatmap_targets(kp, res, 2))[None].double()


def test_sahr_target_is_gt_at_zero_scale_and_approximates_the_power():
    gt = gaussian_gt()
    assert torch.equal(sahr_targets(gt, torch.zeros_like(gt)), gt)
    s = torch.full_like(gt, 0.1) * (gt > 0)
    exact = gt ** (1 + s)
    approx = sahr_targets(gt, s)
    assert (approx - exact).abs().max() < 2e-3  # third-order remainder
    # x = log(gt): the expansion is gt * (1 + x s + (x s)^2 / 2), exactly
    x = torch.log(gt[gt > 0])
    np.testing.assert_allclose(approx[gt > 0], gt[gt > 0] * (1 + x * 0.1 + (x * 0.1) ** 2 / 2), rtol=1e-12)
    # positive scale narrows the Gaussian (lower off-peak values), the peak stays 1
    assert approx.max() == 1 and torch.all(approx[(gt > 0) & (gt < 1)] < gt[(gt > 0) & (gt < 1)])


def test_wahr_weights_at_known_points():
    gt = torch.tensor([0.0, 1.0, 0.5, 0.5])
    pred = torch.tensor([0.0, 1.0, 0.5, 0.0])
    w = wahr_weights(pred, gt)
    g = 0.5 ** 0.01
    np.testing.assert_allclose(w, [0.0, 0.0, 0.5 * g + 0.5 * (1 - g), g], rtol=1e-6)
    # background predicted as 0.3 weighs 0.3; a missed peak weighs 1
    assert math.isclose(float(wahr_weights(torch.tensor(0.3), torch.tensor(0.0))), 0.3, rel_tol=1e-6)
    assert float(wahr_weights(torch.tensor(0.0), torch.tensor(1.0))) == 1.0


def test_heatmap_loss_zero_at_target_and_masked():
    gt = gaussian_gt()
    mask = torch.ones(1, 16, 16, dtype=gt.dtype)
    zero = torch.zeros_like(gt)
    assert float(swahr_heatmap_loss(gt, gt, mask, zero)) == 0
    pred = torch.full_like(gt, 0.2)
    full = swahr_heatmap_loss(pred, gt, mask, zero)
    expected = ((pred - gt) ** 2 * wahr_weights(pred, gt)).mean()
    assert torch.allclose(full, expected[None])
    assert float(swahr_heatmap_loss(pred, gt, torch.zeros_like(mask), zero)) == 0
    assert torch.allclose(l2_heatmap_loss(pred, gt, mask), ((pred - gt) ** 2).mean()[None])
    s = torch.ones_like(gt) * (gt > 0)
    assert torch.allclose(scale_regulariser(s, mask), (gt > 0).double().mean()[None])


def tag_case(tags_by_person, k=2, res=4):
    """Tags Tensor[1, K, res, res] and indices for people given as lists of (joint, x, y, tag)."""
    tags = torch.zeros(1, k, res, res, dtype=torch.float64)
    kp = np.zeros((len(tags_by_person), k, 3))
    for p, joints in enumerate(tags_by_person):
        for j, x, y, t in joints:
            tags[0, j, y, x] = t
            kp[p, j] = (x, y, 2)
    return tags, torch.from_numpy(joint_indices(kp, res, max_people=4))[None]


def test_push_and_pull_for_two_people():
    tags, idx = tag_case([[(0, 1, 1, 1.0), (1, 2, 2, 2.0)], [(0, 3, 3, 3.0), (1, 0, 0, 3.0)]])
    push, pull = ae_loss(tags, idx)
    # person means 1.5 and 3; pull = mean(0.25, 0) ; push = (2 + 2 e^{-2.25} - 2) / (2 * 1) * 0.5
    assert math.isclose(float(pull), 0.125, rel_tol=1e-12)
    assert math.isclose(float(push), math.exp(-2.25) / 2, rel_tol=1e-12)


def test_one_person_has_no_push_and_nobody_no_loss():
    tags, idx = tag_case([[(0, 1, 1, 1.0), (1, 2, 2, 3.0)]])
    push, pull = ae_loss(tags, idx)
    assert float(push) == 0 and math.isclose(float(pull), 1.0)
    tags, idx = tag_case([])
    push, pull = ae_loss(tags, idx)
    assert float(push) == 0 and float(pull) == 0


def loop_reference(tags, indices):
    """Per-image, per-person loop of the 'exp' associative-embedding loss."""
    pushes, pulls = [], []
    for b in range(tags.shape[0]):
        flat = tags[b].reshape(-1)
        means, pull = [], 0.0
        for person in indices[b]:
            t = [flat[i] for i, ok in person.tolist() if ok > 0]
            if not t:
                continue
            t = torch.stack(t)
            means.append(t.mean())
            pull = pull + ((t - means[-1]) ** 2).mean()
        n = len(means)
        if n == 0:
            pushes.append(torch.tensor(0.0, dtype=tags.dtype))
            pulls.append(torch.tensor(0.0, dtype=tags.dtype))
            continue
        pulls.append(pull / n)
        if n == 1:
            pushes.append(torch.tensor(0.0, dtype=tags.dtype))
            continue
        m = torch.stack(means)
        push = torch.exp(-(m[:, None] - m[None, :]) ** 2).sum() - n
        pushes.append(push / ((n - 1) * n) * 0.5)
    return torch.stack(pushes), torch.stack(pulls)


def test_ae_loss_matches_loop_reference_on_random_batches():
    rng = np.random.default_rng(0)
    tags = torch.from_numpy(rng.normal(size=(4, 5, 8, 8)))
    idx = []
    for b, people in enumerate([0, 1, 3, 6]):
        kp = np.zeros((people, 5, 3))
        kp[..., :2] = rng.uniform(0, 8, (people, 5, 2))
        kp[..., 2] = rng.integers(0, 3, (people, 5))
        idx.append(joint_indices(kp, 8, max_people=6))
    idx = torch.from_numpy(np.stack(idx))
    push, pull = ae_loss(tags, idx)
    ref_push, ref_pull = loop_reference(tags, idx)
    torch.testing.assert_close(push, ref_push)
    torch.testing.assert_close(pull, ref_pull)


def stage_inputs(k=17, batch=2, res=(8, 16), seed=0):
    g = torch.Generator().manual_seed(seed)
    outputs = [torch.randn(batch, 3 * k, res[0], res[0], generator=g) * 0.1,
               torch.randn(batch, 2 * k, res[1], res[1], generator=g) * 0.1]
    rng = np.random.default_rng(seed)
    heatmaps, indices = [], []
    for r in res:
        kp = np.zeros((batch, 3, k, 3))
        kp[..., :2] = rng.uniform(0, r, (batch, 3, k, 2))
        kp[..., 2] = 2
        heatmaps.append(torch.from_numpy(np.stack([heatmap_targets(p, r, 2) for p in kp])))
        indices.append(torch.from_numpy(np.stack([joint_indices(p, r, 30) for p in kp])))
    masks = [torch.ones(batch, r, r) for r in res]
    return outputs, heatmaps, masks, indices


def test_swahr_loss_total_is_the_official_sum():
    outputs, heatmaps, masks, indices = stage_inputs()
    terms = SwahrLoss()(outputs, heatmaps, masks, indices)
    assert list(terms.terms) == stage_names(LossConfig())
    k = 17
    expected = 0.0
    for s in range(2):
        scale = outputs[s][:, :k] * (heatmaps[s] > 0)
        expected += swahr_heatmap_loss(outputs[s][:, k:2 * k], heatmaps[s], masks[s], scale).mean()
        expected += scale_regulariser(scale, masks[s]).mean()
    push, pull = ae_loss(outputs[0][:, 2 * k:], indices[0])
    expected += 0.001 * (push.mean() + pull.mean())
    torch.testing.assert_close(terms.total, expected)
    assert set(terms.as_floats()) == set(stage_names(LossConfig())) | {"total"}


@pytest.mark.parametrize("adaptive", [True, False])
def test_scale_channels_get_gradient_only_with_adaptive_targets(adaptive):
    outputs, heatmaps, masks, indices = stage_inputs()
    outputs = [o.requires_grad_() for o in outputs]
    SwahrLoss(LossConfig(adaptive=adaptive))(outputs, heatmaps, masks, indices).total.backward()
    for o in outputs:
        scale_grad = o.grad[:, :17]
        assert bool(scale_grad.abs().sum() > 0) == adaptive
        assert o.grad[:, 17:34].abs().sum() > 0  # heatmaps always learn
    assert outputs[0].grad[:, 34:].abs().sum() > 0  # tags learn through push / pull


def test_loss_without_scale_channels_and_bad_config():
    outputs, heatmaps, masks, indices = stage_inputs()
    plain = [outputs[0][:, 17:], outputs[1][:, 17:]]
    cfg = LossConfig(adaptive=False, scale_channels=False)
    a = SwahrLoss(cfg)(plain, heatmaps, masks, indices).total
    b = SwahrLoss(LossConfig(adaptive=False))(outputs, heatmaps, masks, indices).total
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError):
        LossConfig(adaptive=True, scale_channels=False)
    with pytest.raises(ValueError):
        SwahrLoss()(outputs[:1], heatmaps, masks, indices)
