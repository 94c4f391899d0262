"""SWAHR / HigherHRNet as a configurable PyTorch module whose state dict matches the official one.

The network (SPEC.md "Network"): a stem of two stride-2 3x3 convs, ``layer1`` (bottlenecks at
1/4 resolution), HRNet stages 2-4 with 2, 3 and 4 parallel branches (widths ``w, 2w, 4w, 8w``),
a 1x1 head at 1/4 resolution, one deconvolution block to 1/2 resolution and a 1x1 head there.
SWAHR adds a scale head per stage (1x1 conv to K, BN, ReLU, 9x9 depthwise conv).

Parameter and buffer names and shapes are those of the official ``PoseHigherResolutionNet``
(``conv1``, ``bn1``, ``layer1``, ``transition1..3``, ``stage2..4``, ``final_layers``,
``deconv_layers``, ``conv_scale_layers``), so an official checkpoint loads with ``strict=True``.
Placeholders (where the official code keeps a parameter-free module only to hold a list index)
are ``nn.Identity`` here; they own no state, so indices and names stay aligned.

Architectures are data (:data:`ARCHS`): the official COCO W32-512, COCO W48-640 and CrowdPose
W48-640, plus two small members of the same family for a bundled model and for fast tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

# Official stage layout that is not configurable here: stem width 64, layer1 bottleneck width 64
# (expansion 4 -> 256 channels), branches per stage 2/3/4, 4x4 stride-2 deconvolution, 1x1 heads.
STEM_CHANNELS = 64
BRANCHES = (2, 3, 4)


@dataclass(frozen=True)
class ArchConfig:
    """One member of the HigherHRNet family.

    ``stage_modules`` and ``stage_blocks`` give, for stages 2, 3 and 4, how many HRNet modules
    the stage has and how many basic blocks each branch of a module has.  ``stem_blocks`` is the
    number of bottlenecks in ``layer1``; ``deconv_blocks`` the number of basic blocks after the
    deconvolution.  ``input_size`` and ``detection_threshold`` are the official test-time
    defaults carried into the exported model's metadata.
    """

    name: str
    width: int
    num_joints: int = 17
    dataset: str = "coco"
    input_size: int = 512
    stage_modules: Tuple[int, int, int] = (1, 4, 3)
    stage_blocks: Tuple[int, int, int] = (4, 4, 4)
    stem_blocks: int = 4
    deconv_blocks: int = 4
    scale_heads: bool = True
    detection_threshold: float = 0.1

    @property
    def branch_widths(self) -> Tuple[int, int, int, int]:
        w = self.width
        return (w, 2 * w, 4 * w, 8 * w)

    def structure(self) -> Tuple:
        """What determines the state dict's names and shapes (not the test-time defaults)."""
        return (self.width, self.num_joints, tuple(self.stage_modules),
                tuple(self.stage_blocks), self.stem_blocks, self.deconv_blocks, self.scale_heads)


ARCHS: Dict[str, ArchConfig] = {
    "w32": ArchConfig("w32", 32, input_size=512, detection_threshold=0.12),
    "w48": ArchConfig("w48", 48, input_size=640, detection_threshold=0.10),
    "crowdpose-w48": ArchConfig("crowdpose-w48", 48, num_joints=14, dataset="crowdpose",
                                input_size=640, detection_threshold=0.10),
    # Small members: same names, fewer modules and blocks.  "w16-small" (1.49 M parameters)
    # is the candidate for a model bundled with the package; "w8-tiny" exists for fast tests.
    "w16-small": ArchConfig("w16-small", 16, input_size=256, stage_modules=(1, 1, 1),
                            stage_blocks=(2, 2, 2), stem_blocks=2, deconv_blocks=2),
    "w8-tiny": ArchConfig("w8-tiny", 8, input_size=256, stage_modules=(1, 1, 1),
                          stage_blocks=(1, 1, 1), stem_blocks=1, deconv_blocks=1),
}


def get_arch(arch: Union[str, ArchConfig]) -> ArchConfig:
    """The registered :class:`ArchConfig` called ``arch`` (or ``arch`` itself)."""
    if isinstance(arch, ArchConfig):
        return arch
    try:
        return ARCHS[arch]
    except KeyError:
        raise KeyError(f"unknown architecture {arch!r}; known: {', '.join(ARCHS)}") from None


def build_model(arch: Union[str, ArchConfig]) -> "HigherHRNet":
    """A freshly initialised (PyTorch default init) network for ``arch``, in training mode."""
    return HigherHRNet(get_arch(arch))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, momentum=0.1)


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, relu: bool = True) -> nn.Sequential:
    layers: List[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), _bn(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a residual connection (ResNet basic block)."""

    expansion = 1

    def __init__(self, cin: int, channels: int, downsample: Optional[nn.Module] = None):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, channels, 3, 1, 1, bias=False)
        self.bn1 = _bn(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = _bn(channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu(out + skip)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4), with a residual connection (ResNet bottleneck)."""

    expansion = 4

    def __init__(self, cin: int, channels: int, downsample: Optional[nn.Module] = None):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, channels, 1, bias=False)
        self.bn1 = _bn(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = _bn(channels)
        self.conv3 = nn.Conv2d(channels, channels * 4, 1, bias=False)
        self.bn3 = _bn(channels * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu(out + skip)


def _blocks(block: type, cin: int, channels: int, count: int) -> nn.Sequential:
    """``count`` blocks; the first gets a 1x1 projection when the channel count changes."""
    cout = channels * block.expansion
    downsample = _conv_bn(cin, cout, 1, relu=False) if cin != cout else None
    layers = [block(cin, channels, downsample)]
    layers += [block(cout, channels) for _ in range(count - 1)]
    return nn.Sequential(*layers)


class HRModule(nn.Module):
    """Parallel branches of basic blocks, then every branch fused into every output branch.

    Lower-resolution inputs reach a higher-resolution output through a 1x1 conv-BN and nearest
    upsampling; higher-resolution inputs reach a lower one through stride-2 3x3 conv-BNs (ReLU
    between them).  With ``all_outputs=False`` only the highest-resolution output is fused (the
    last module of stage 4, as officially).
    """

    def __init__(self, widths: Sequence[int], num_blocks: int, all_outputs: bool = True):
        super().__init__()
        n = len(widths)
        self.branches = nn.ModuleList(
            _blocks(BasicBlock, c, c, num_blocks) for c in widths)
        self.fuse_layers = nn.ModuleList(
            nn.ModuleList(self._fuse(widths, src, dst) for src in range(n))
            for dst in range(n if all_outputs else 1))
        self.relu = nn.ReLU(inplace=True)

    @staticmethod
    def _fuse(widths: Sequence[int], src: int, dst: int) -> nn.Module:
        if src == dst:
            return nn.Identity()
        if src > dst:
            return nn.Sequential(
                nn.Conv2d(widths[src], widths[dst], 1, bias=False), nn.BatchNorm2d(widths[dst]),
                nn.Upsample(scale_factor=2 ** (src - dst), mode="nearest"))
        steps = [_conv_bn(widths[src], widths[src], 3, stride=2)
                 for _ in range(dst - src - 1)]
        steps.append(_conv_bn(widths[src], widths[dst], 3, stride=2, relu=False))
        return nn.Sequential(*steps)

    def forward(self, xs: List[torch.Tensor]) -> List[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        fused = []
        for dst, row in enumerate(self.fuse_layers):
            # summed in source order, as officially, so that float rounding matches too
            terms = [x if src == dst else layer(x) for src, (layer, x) in enumerate(zip(row, xs))]
            y = terms[0]
            for term in terms[1:]:
                y = y + term
            fused.append(self.relu(y))
        return fused + xs[len(fused):]


def _transition(cin: Sequence[int], cout: Sequence[int]) -> nn.ModuleList:
    """Adapt stage outputs to the next stage: 3x3 conv where widths differ, a new branch by a
    stride-2 3x3 conv from the lowest-resolution input."""
    layers: List[nn.Module] = []
    for i, c in enumerate(cout):
        if i < len(cin):
            layers.append(_conv_bn(cin[i], c, 3) if cin[i] != c else nn.Identity())
        else:
            layers.append(nn.Sequential(_conv_bn(cin[-1], c, 3, stride=2)))
    return nn.ModuleList(layers)


def _scale_head(cin: int, k: int) -> nn.Sequential:
    """SWAHR scale head: 1x1 conv (with bias) to K channels, BN, ReLU, 9x9 depthwise conv."""
    return nn.Sequential(nn.Conv2d(cin, k, 1), nn.BatchNorm2d(k), nn.ReLU(inplace=True),
                         nn.Conv2d(k, k, 9, 1, 4, groups=k))


class HigherHRNet(nn.Module):
    """SWAHR (``cfg.scale_heads``) or plain HigherHRNet.

    ``forward(x)`` with ``x`` float [N, 3, H, W] (H, W multiples of 32) returns the list of the
    two stage outputs, channels concatenated as the official model does (K = num_joints):

    * stage 0, [N, 3K, H/4, W/4]: scale (K), heatmaps (K), tags (K)
    * stage 1, [N, 2K, H/2, W/2]: scale (K), heatmaps (K)

    Without scale heads the scale channels are absent ([N, 2K, ...] and [N, K, ...]).
    """

    def __init__(self, cfg: ArchConfig):
        super().__init__()
        self.cfg = cfg
        k, w = cfg.num_joints, cfg.branch_widths
        self.conv1 = nn.Conv2d(3, STEM_CHANNELS, 3, 2, 1, bias=False)
        self.bn1 = _bn(STEM_CHANNELS)
        self.conv2 = nn.Conv2d(STEM_CHANNELS, STEM_CHANNELS, 3, 2, 1, bias=False)
        self.bn2 = _bn(STEM_CHANNELS)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = _blocks(Bottleneck, STEM_CHANNELS, STEM_CHANNELS, cfg.stem_blocks)

        previous = [STEM_CHANNELS * Bottleneck.expansion]
        for index, (branches, modules, blocks) in enumerate(
                zip(BRANCHES, cfg.stage_modules, cfg.stage_blocks), start=1):
            widths = list(w[:branches])
            setattr(self, f"transition{index}", _transition(previous, widths))
            last_stage = index == len(BRANCHES)
            setattr(self, f"stage{index + 1}", nn.Sequential(*(
                HRModule(widths, blocks, all_outputs=not (last_stage and m == modules - 1))
                for m in range(modules))))
            previous = widths

        self.final_layers = nn.ModuleList([nn.Conv2d(w[0], 2 * k, 1), nn.Conv2d(w[0], k, 1)])
        deconv = nn.Sequential(
            nn.ConvTranspose2d(w[0] + 2 * k, w[0], 4, stride=2, padding=1, bias=False),
            _bn(w[0]), nn.ReLU(inplace=True))
        self.deconv_layers = nn.ModuleList([nn.Sequential(
            deconv, *(nn.Sequential(BasicBlock(w[0], w[0])) for _ in range(cfg.deconv_blocks)))])
        if cfg.scale_heads:
            self.conv_scale_layers = nn.ModuleList([_scale_head(w[0], k), _scale_head(w[0], k)])

    def _stage(self, index: int, xs: List[torch.Tensor]) -> List[torch.Tensor]:
        """Run transition ``index`` (1..3) and the stage after it."""
        transition = getattr(self, f"transition{index}")
        inputs = [x if isinstance(t, nn.Identity) else t(x)
                  for t, x in zip(transition, xs)]
        # new branches are made from the lowest-resolution output of the previous stage
        inputs += [t(xs[-1]) for t in list(transition)[len(xs):]]
        return getattr(self, f"stage{index + 1}")(inputs)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        xs = [self.layer1(x)]
        for index in range(1, len(BRANCHES) + 1):
            xs = self._stage(index, xs)
        x = xs[0]

        maps0 = self.final_layers[0](x)  # heatmaps (K) + tags (K), 1/4 resolution
        x = self.deconv_layers[0](torch.cat([x, maps0], 1))
        maps1 = self.final_layers[1](x)  # heatmaps (K), 1/2 resolution
        if not self.cfg.scale_heads:
            return [maps0, maps1]
        scale0 = self.conv_scale_layers[0](xs[0])
        scale1 = self.conv_scale_layers[1](x)
        return [torch.cat([scale0, maps0], 1), torch.cat([scale1, maps1], 1)]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
