"""Load a SWAHR / HigherHRNet PyTorch checkpoint without the user having to describe it.

Accepted files (read with ``torch.load(..., weights_only=True)``, so a file cannot run code):

* a plain state dict (``torch.save(model.state_dict())``, the official released models);
* a training checkpoint that wraps it: ``{'state_dict': ...}`` (the official trainer, which also
  stores ``'model': <name string>``, epoch, optimizer), ``{'model': ...}``,
  ``{'model_state_dict': ...}`` or ``{'best_state_dict': ...}``;
* keys with ``module.`` prefixes (DataParallel / DistributedDataParallel).

The architecture is read from the tensors: width from the heads' input channels, joints from
the stage-1 head, SWAHR scale heads from the presence of ``conv_scale_layers``, and module /
block counts from the key indices.  A structure that matches a registered architecture takes its
name and official test-time defaults (W32 -> input 512, detection threshold 0.12; W48 -> 640,
0.10; 14 joints -> CrowdPose).  ``arch=`` names the architecture instead; the presence of scale
heads is still taken from the file, so ``arch="w32"`` also loads a plain HigherHRNet-W32.

Every failure is one :class:`~swahr_infer.errors.CheckpointError` whose message names the file and
the first missing, unexpected or mis-shaped keys.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple, Union

import torch

from swahr_infer.errors import CheckpointError
from swahr_infer.metadata import DecodeDefaults, ModelInfo
from swahr_infer.skeleton import LAYOUTS, layout_for

from .model import ARCHS, ArchConfig, HigherHRNet, build_model

log = logging.getLogger(__name__)

StateDict = Dict[str, torch.Tensor]

# Keys under which training checkpoints keep the weights, in the order they are tried.
WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "best_state_dict")
_SHOW = 3  # how many offending keys an error message names


def load_checkpoint(path: Union[str, Path],
                    arch: Union[str, ArchConfig, None] = None) -> Tuple[HigherHRNet, ModelInfo]:
    """Read ``path`` and return (network in eval mode on the CPU, its :class:`ModelInfo`)."""
    state = read_state_dict(path)
    cfg = resolve_arch(state, arch, source=str(path))
    model = build_model(cfg)
    check_keys(model, state, cfg, source=str(path))
    model.load_state_dict(state, strict=True)
    model.eval()
    log.info("loaded %s as %s (width %d, %d joints, scale heads %s)", path, cfg.name,
             cfg.width, cfg.num_joints, cfg.scale_heads)
    return model, info_for(cfg)


def read_state_dict(path: Union[str, Path]) -> StateDict:
    """The state dict stored in ``path``: unwrapped and without ``module.`` prefixes."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise CheckpointError(f"checkpoint is not a file: {path}")
    obj = _torch_load(path)
    state = find_state_dict(obj)
    if state is None:
        shown = ", ".join(repr(k) for k in list(obj)[:8]) if isinstance(obj, Mapping) else \
            type(obj).__name__
        raise CheckpointError(
            f"{path} holds no state dict (found {shown}); expected a dict of tensors or one "
            f"wrapped under {' / '.join(repr(k) for k in WRAPPER_KEYS)}")
    return strip_prefix(state)


def _torch_load(path: Path):
    try:
        with _numpy_scalars_allowed():
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch.load raises anything on a bad file
        message = str(exc)
        unsafe = re.search(r"Unsupported global: GLOBAL (\S+)", message)
        if unsafe:
            raise CheckpointError(
                f"{path} holds Python objects other than tensors ({unsafe.group(1)}); "
                "swahr-infer only loads with weights_only=True. If you trust the file, "
                "re-save its weights: torch.save(torch.load(path, weights_only=False)"
                "['state_dict'], 'weights.pth')") from exc
        first = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
        with open(path, "rb") as handle:
            magic = handle.read(4)
        if not magic or isinstance(exc, EOFError) or "central directory" in first:
            first = "the file is empty or truncated"
        elif not (magic.startswith(b"PK") or magic.startswith(b"\x80")):
            first = "neither a zip archive nor a pickle"
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint ({first[:200]})") from exc


def _numpy_scalars_allowed():
    """Allow numpy scalars and dtypes (plain values, e.g. a stored score) in weights-only loads."""
    import contextlib

    import numpy as np

    safe_globals = getattr(torch.serialization, "safe_globals", None)
    if safe_globals is None:  # torch < 2.5
        return contextlib.nullcontext()
    try:
        from numpy._core.multiarray import scalar  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import scalar
    dtypes = {type(np.dtype(t)) for t in ("float64", "float32", "int64", "int32", "bool")}
    return safe_globals([scalar, np.dtype, *dtypes])


def _is_state_dict(obj) -> bool:
    return (isinstance(obj, Mapping) and len(obj) > 0
            and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()))


def find_state_dict(obj) -> Optional[StateDict]:
    """``obj`` if it is a state dict, else the first one under :data:`WRAPPER_KEYS` (nested)."""
    if _is_state_dict(obj):
        return dict(obj)
    if isinstance(obj, Mapping):
        for key in WRAPPER_KEYS:
            found = find_state_dict(obj.get(key))
            if found is not None:
                return found
    return None


def strip_prefix(state: Mapping[str, torch.Tensor], prefix: str = "module.") -> StateDict:
    """Remove (repeated) DataParallel prefixes from every key."""
    out = {}
    for key, value in state.items():
        while key.startswith(prefix):
            key = key[len(prefix):]
        out[key] = value
    return out


def _indices(state: Mapping[str, torch.Tensor], prefix: str) -> int:
    """How many consecutive submodules ``prefix<i>.`` the keys mention."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    found = {int(m.group(1)) for k in state for m in [pattern.match(k)] if m}
    return len(found)


def infer_arch(state: Mapping[str, torch.Tensor], source: str = "checkpoint") -> ArchConfig:
    """The :class:`ArchConfig` whose state dict has ``state``'s structure.

    Registered architectures are preferred (their names and test-time defaults); otherwise a
    ``"custom"`` one with the inferred counts and the defaults of its joint count.
    """
    head0, head1 = state.get("final_layers.0.weight"), state.get("final_layers.1.weight")
    if head0 is None or head1 is None:
        raise CheckpointError(
            f"{source} is not a HigherHRNet / SWAHR checkpoint: it has no final_layers.0/1 "
            f"weights (first keys: {', '.join(list(state)[:_SHOW])})")
    k, width = int(head1.shape[0]), int(head1.shape[1])
    if tuple(head0.shape[:2]) != (2 * k, width):
        raise CheckpointError(
            f"{source}: final_layers.0.weight has shape {list(head0.shape)}, expected "
            f"[{2 * k}, {width}, 1, 1] (heatmaps and per-joint tags for {k} joints)")
    inferred = ArchConfig(
        name="custom", width=width, num_joints=k,
        stage_modules=tuple(_indices(state, f"stage{s}.") for s in (2, 3, 4)),
        stage_blocks=tuple(_indices(state, f"stage{s}.0.branches.0.") for s in (2, 3, 4)),
        stem_blocks=_indices(state, "layer1."),
        deconv_blocks=max(_indices(state, "deconv_layers.0.") - 1, 0),
        scale_heads=any(key.startswith("conv_scale_layers.") for key in state),
    )
    counts = {"layer1": inferred.stem_blocks, "deconv_layers.0": inferred.deconv_blocks,
              **{f"stage{s}": m * b for s, m, b in
                 zip((2, 3, 4), inferred.stage_modules, inferred.stage_blocks)}}
    absent = [name for name, count in counts.items() if count == 0]
    if absent:
        raise CheckpointError(
            f"{source} is not a complete HigherHRNet / SWAHR checkpoint: no weights for "
            f"{', '.join(absent)}")
    for known in ARCHS.values():
        if replace(known, scale_heads=inferred.scale_heads).structure() == inferred.structure():
            return replace(known, scale_heads=inferred.scale_heads)
    layout = LAYOUTS["crowdpose"] if k == LAYOUTS["crowdpose"].num_joints else None
    return replace(inferred, dataset=layout.name if layout else "coco")


def resolve_arch(state: Mapping[str, torch.Tensor], arch: Union[str, ArchConfig, None],
                 source: str = "checkpoint") -> ArchConfig:
    """``arch`` (a name or config; scale heads as present in ``state``) or the inferred one."""
    if arch is None:
        return infer_arch(state, source)
    if isinstance(arch, str):
        if arch not in ARCHS:
            raise CheckpointError(f"unknown architecture {arch!r}; known: {', '.join(ARCHS)}")
        arch = ARCHS[arch]
    has_scale = any(key.startswith("conv_scale_layers.") for key in state)
    return replace(arch, scale_heads=has_scale)


def check_keys(model: torch.nn.Module, state: Mapping[str, torch.Tensor], cfg: ArchConfig,
               source: str = "checkpoint") -> None:
    """Raise one :class:`CheckpointError` if ``state`` cannot load into ``model`` strictly.

    A missing ``num_batches_tracked`` is not an error (old checkpoints lack it; PyTorch fills it).
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    misshaped = [f"{k} {list(state[k].shape)} vs {list(v.shape)}"
                 for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if not (missing or unexpected or misshaped):
        return
    problems: List[str] = []
    for what, keys in (("missing", missing), ("unexpected", unexpected),
                       ("mis-shaped (file vs model)", misshaped)):
        if keys:
            more = f" and {len(keys) - _SHOW} more" if len(keys) > _SHOW else ""
            problems.append(f"{len(keys)} {what}: {', '.join(keys[:_SHOW])}{more}")
    kind = "SWAHR" if cfg.scale_heads else "HigherHRNet"
    raise CheckpointError(
        f"{source} does not fit architecture {cfg.name} ({kind}, width {cfg.width}, "
        f"{cfg.num_joints} joints): {'; '.join(problems)}")


def info_for(cfg: ArchConfig) -> ModelInfo:
    """The runtime's :class:`ModelInfo` for ``cfg`` with its official decoding defaults."""
    base = LAYOUTS.get(cfg.dataset)
    if base is None or base.num_joints != cfg.num_joints:
        try:
            base = layout_for(cfg.num_joints)
        except KeyError:
            raise CheckpointError(
                f"no built-in keypoint layout has {cfg.num_joints} joints (COCO has 17, "
                "CrowdPose 14); the runtime needs joint names and a flip index") from None
    return ModelInfo(
        arch=cfg.name, width=cfg.width, num_joints=cfg.num_joints, dataset=base.name,
        joint_names=base.joint_names, flip_index=base.flip_index, input_size=cfg.input_size,
        has_scale_heads=cfg.scale_heads,
        decode=DecodeDefaults(detection_threshold=cfg.detection_threshold),
    )
