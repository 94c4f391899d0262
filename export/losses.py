"""SWAHR training objectives, as the official implementation defines them (PyTorch).

Per stage s with K joints, the network output is ``[scale (K), heatmaps (K), tags (K)]`` at stage 0
and ``[scale (K), heatmaps (K)]`` at stage 1.  With gt the Gaussian targets, mask the valid-pixel
mask (1 = counts), ``sm = scale * (gt > 0)`` the predicted scale map restricted to the
Gaussians' support:

* **SAHR** (scale-adaptive targets): the target is ``gt ** (1 + sm)``, a Gaussian whose sigma
  adapts to the person, computed as the official second-order expansion in ``sm``:
  ``gt + gt * log(gt) * sm + 0.5 * gt * log(gt)**2 * sm**2`` (log taken as 0 where gt is 0).
  Gradients flow into the scale head through this target.
* **WAHR** (weight-adaptive loss): each pixel's squared error is weighted by
  ``|1 - pred| * gt**0.01 + |pred| * (1 - gt**0.01)`` (not detached, as in the official code),
  which down-weights easy background and emphasises the keypoint regions.
* Heatmap loss per image = mean over K x H x W of ``(pred - target)**2 * weight * mask``.
* Scale regulariser per image = mean of ``sm**2 * mask``; the official trainer adds it with
  factor 1 (there is no config knob for it).
* Associative embedding ('exp' type) on stage-0 tags: per person the mean tag over its labelled
  joints; pull = mean over people of the mean squared deviation from it; push =
  ``(sum_{i,j} exp(-(t_i - t_j)**2) - n) / (n (n - 1)) * 0.5`` over the n people of the image
  (0 for fewer than 2 people; pull is 0 with none).
* Total = sum over stages of the batch means: heatmap * heatmap factor + scale regulariser +
  push * push factor + pull * pull factor.  Official COCO W32 factors: heatmaps 1.0 / 1.0,
  AE (push and pull) 0.001 on stage 0 only.

The fixed-sigma ablation (``LossConfig(adaptive=False)``) is HigherHRNet's loss: plain masked L2
to the fixed-sigma targets, no scale regulariser (the scale heads get no gradient), AE unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import torch


def sahr_targets(gt: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Scale-adaptive targets, 2nd-order expansion of ``gt ** (1 + scale)``.

    gt, scale: Tensor[B, K, H, W] (scale already zero outside gt > 0).  Returns Tensor[B, K, H, W].
    Equals gt when scale is 0.
    """
    log_gt = torch.log(torch.where(gt > 0, gt, torch.ones_like(gt)))
    g_log = gt * log_gt
    return gt + g_log * scale + 0.5 * g_log * log_gt * scale ** 2


def wahr_weights(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Weight-adaptive per-pixel weights ``|1 - pred| * gt**0.01 + |pred| * (1 - gt**0.01)``.

    pred, gt: Tensor[B, K, H, W].  At pred == gt == 0 the weight is 0, at gt == 1 it is |1 - pred|.
    """
    g = gt ** 0.01
    return (1 - pred).abs() * g + pred.abs() * (1 - g)


def _per_image_mean(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1).mean(dim=1)


def _expand_mask(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """mask Tensor[B, H, W] (or [B, 1, H, W]) broadcast to like Tensor[B, K, H, W]."""
    if mask.dim() == 3:
        mask = mask[:, None]
    return mask.to(like.dtype).expand_as(like)


def swahr_heatmap_loss(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor,
                       scale: torch.Tensor) -> torch.Tensor:
    """SAHR + WAHR heatmap loss per image.  pred, gt, scale: Tensor[B, K, H, W]; mask Tensor[B, H, W].
    Returns Tensor[B]."""
    target = sahr_targets(gt, scale)
    return _per_image_mean((pred - target) ** 2 * wahr_weights(pred, gt) * _expand_mask(mask, gt))


def l2_heatmap_loss(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """HigherHRNet's plain masked L2 per image (the fixed-sigma ablation).  Returns Tensor[B]."""
    return _per_image_mean((pred - gt) ** 2 * _expand_mask(mask, gt))


def scale_regulariser(scale: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``scale**2 * mask`` per image.  scale Tensor[B, K, H, W]; returns Tensor[B]."""
    return _per_image_mean(scale ** 2 * _expand_mask(mask, scale))


def ae_loss(tags: torch.Tensor, indices: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Associative-embedding push and pull losses ('exp' type), per image.

    tags: Tensor[B, K, H, W] (one tag value per joint channel, the official TAG_PER_JOINT).
    indices: Tensor[B, P, K, 2] int, from :func:`export.targets.joint_indices`: (flat index into
    K*H*W, valid flag).  Returns (push Tensor[B], pull Tensor[B]).
    """
    b = tags.shape[0]
    flat = tags.reshape(b, -1)
    idx = indices[..., 0].long()
    valid = (indices[..., 1] > 0).to(flat.dtype)  # [B, P, K]
    values = torch.gather(flat, 1, idx.reshape(b, -1)).reshape(idx.shape) * valid
    count = valid.sum(-1)  # joints per person
    present = count > 0
    n = present.sum(-1).to(flat.dtype)  # people per image
    mean = values.sum(-1) / count.clamp(min=1)
    pull_person = ((values - mean[..., None]) ** 2 * valid).sum(-1) / count.clamp(min=1)
    pull = pull_person.sum(-1) / n.clamp(min=1)
    pair = (present[:, :, None] & present[:, None, :]).to(flat.dtype)
    similarity = torch.exp(-(mean[:, :, None] - mean[:, None, :]) ** 2) * pair
    push = (similarity.sum((1, 2)) - n) / (n * (n - 1)).clamp(min=1) * 0.5
    push = torch.where(n >= 2, push, torch.zeros_like(push))
    return push, pull


@dataclass(frozen=True)
class LossConfig:
    """Loss switches and factors per stage; defaults are the official COCO W32 config."""

    num_joints: int = 17
    heatmap_factors: Tuple[float, ...] = (1.0, 1.0)
    with_ae: Tuple[bool, ...] = (True, False)
    push_factors: Tuple[float, ...] = (0.001, 0.001)
    pull_factors: Tuple[float, ...] = (0.001, 0.001)
    scale_factor: float = 1.0  # the official trainer adds the regulariser unweighted
    adaptive: bool = True  # False: fixed-sigma plain L2 ablation (HigherHRNet)
    scale_channels: bool = True  # outputs start with K scale channels (SWAHR heads present)

    def __post_init__(self):
        if self.adaptive and not self.scale_channels:
            raise ValueError("scale-adaptive targets need the scale heads' channels")


@dataclass
class LossTerms:
    """The batch-mean loss terms per stage and their weighted total (a scalar tensor)."""

    total: torch.Tensor
    terms: Dict[str, torch.Tensor] = field(default_factory=dict)

    def as_floats(self) -> Dict[str, float]:
        out = {name: float(value.detach()) for name, value in self.terms.items()}
        out["total"] = float(self.total.detach())
        return out


class SwahrLoss:
    """Multi-stage SWAHR loss.  Call with the network's stage outputs and the targets:

    outputs: [Tensor[B, 3K, H0, W0], Tensor[B, 2K, H1, W1]] (scale, heatmaps[, tags]);
    heatmaps: [Tensor[B, K, Hs, Ws]] per stage; masks: [Tensor[B, Hs, Ws]] per stage;
    indices: [Tensor[B, P, K, 2]] per stage (only stages with AE use theirs).
    Losses are computed in float32 whatever the outputs' dtype (autocast).
    """

    def __init__(self, config: LossConfig = LossConfig()):
        self.config = config

    def __call__(self, outputs: Sequence[torch.Tensor], heatmaps: Sequence[torch.Tensor],
                 masks: Sequence[torch.Tensor], indices: Sequence[torch.Tensor]) -> LossTerms:
        cfg, k = self.config, self.config.num_joints
        if not len(outputs) == len(heatmaps) == len(masks) == len(cfg.heatmap_factors):
            raise ValueError(f"expected {len(cfg.heatmap_factors)} stages of outputs, heatmaps and masks, "
                             f"got {len(outputs)}, {len(heatmaps)}, {len(masks)}")
        terms: Dict[str, torch.Tensor] = {}
        total = outputs[0].new_zeros((), dtype=torch.float32)
        first = k if cfg.scale_channels else 0  # where the heatmap channels start
        for s, out in enumerate(outputs):
            out, gt, mask = out.float(), heatmaps[s].float(), masks[s]
            pred = out[:, first:first + k]
            if cfg.adaptive:
                scale = out[:, :k] * (gt > 0).to(out.dtype)
                terms[f"heatmap{s}"] = swahr_heatmap_loss(pred, gt, mask, scale).mean() * cfg.heatmap_factors[s]
                terms[f"scale{s}"] = scale_regulariser(scale, mask).mean() * cfg.scale_factor
                total = total + terms[f"heatmap{s}"] + terms[f"scale{s}"]
            else:
                terms[f"heatmap{s}"] = l2_heatmap_loss(pred, gt, mask).mean() * cfg.heatmap_factors[s]
                total = total + terms[f"heatmap{s}"]
            if cfg.with_ae[s]:
                push, pull = ae_loss(out[:, first + k:first + 2 * k], indices[s])
                terms[f"push{s}"] = push.mean() * cfg.push_factors[s]
                terms[f"pull{s}"] = pull.mean() * cfg.pull_factors[s]
                total = total + terms[f"push{s}"] + terms[f"pull{s}"]
        return LossTerms(total=total, terms=terms)


def stage_names(config: LossConfig) -> List[str]:
    """Names of the terms a :class:`SwahrLoss` with this config reports, in order."""
    names = []
    for s in range(len(config.heatmap_factors)):
        names.append(f"heatmap{s}")
        if config.adaptive:
            names.append(f"scale{s}")
        if config.with_ae[s]:
            names += [f"push{s}", f"pull{s}"]
    return names
