"""TensorRT version rules in one place (no tensorrt import here).

How FP16 is requested differs by TensorRT major version (../shared/TENSORRT.md, NVIDIA's
"Migrating from TensorRT 10.x to 11.x" guide):

* 8.6: weakly typed networks only; FP16 is allowed with ``BuilderFlag.FP16`` / ``--fp16``.
* 10.x: weak typing with ``BuilderFlag.FP16`` still works (deprecated since 10.12); strongly
  typed networks (``NetworkDefinitionCreationFlag.STRONGLY_TYPED`` / ``--stronglyTyped``) take
  precision from the ONNX itself.  We use strong typing whenever the ONNX already carries FP16
  (``swahr-infer export --fp16``), the flag otherwise.
* 11.x: precision builder flags are gone and every network is strongly typed: FP16 needs an FP16
  ONNX.  ``--fp16`` does not exist and ``--stronglyTyped`` is a no-op.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from .errors import ModelError

Version = Tuple[int, int]


def parse_version(text: str) -> Version:
    """``"10.12.0.36"`` or ``"v100200"`` (trtexec banner) -> (major, minor)."""
    text = text.strip()
    banner = re.fullmatch(r"v(\d{4}|\d{6})", text)
    if banner:  # trtexec banners: v8601 = 8.6.1 (M m pp), v100200 = 10.2.0 (MM mm pp)
        digits = banner.group(1)
        if len(digits) == 4:
            return int(digits[0]), int(digits[1])
        return int(digits[:2]), int(digits[2:4])
    match = re.match(r"v?(\d+)\.(\d+)", text)
    if not match:
        raise ValueError(f"not a TensorRT version: {text!r}")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True)
class PrecisionPlan:
    """How to build an engine of the requested precision on one TensorRT version."""

    strongly_typed: bool  # create the network STRONGLY_TYPED / pass --stronglyTyped
    fp16_flag: bool  # set BuilderFlag.FP16 / pass --fp16

    @property
    def trtexec_flags(self) -> Tuple[str, ...]:
        return (("--stronglyTyped",) if self.strongly_typed else ()) + (
            ("--fp16",) if self.fp16_flag else ())


def precision_plan(version: Version, *, fp16: bool, onnx_precision: str) -> PrecisionPlan:
    """Choose strong typing and/or the FP16 flag.

    Args:
        version: TensorRT (major, minor).
        fp16: the user asked for an FP16 engine.
        onnx_precision: ``"fp32"`` or ``"fp16"`` as recorded in the model's metadata.
    Raises:
        ModelError: FP16 asked on TensorRT >= 11 from an FP32 ONNX (no builder flag exists).
    """
    major = version[0]
    onnx_fp16 = onnx_precision == "fp16"
    if major >= 11:
        if fp16 and not onnx_fp16:
            raise ModelError(
                "TensorRT 11 builds strongly typed networks only and has no FP16 flag: "
                "export an FP16 ONNX first (`swahr-infer export CKPT --fp16 -o model_fp16.onnx`)"
            )
        return PrecisionPlan(strongly_typed=False, fp16_flag=False)  # strong typing is implicit
    if major >= 10 and onnx_fp16:
        return PrecisionPlan(strongly_typed=True, fp16_flag=False)
    # 8.x/9.x, or 10.x from an FP32 ONNX: weak typing, FP16 through the builder flag.
    return PrecisionPlan(strongly_typed=False, fp16_flag=fp16 or onnx_fp16)


Shape = Tuple[int, int, int, int]


def _round_up(value: float, multiple: int) -> int:
    return int(-(-value // multiple) * multiple)


def default_profile(input_size: int, size_divisor: int = 32, batch: int = 2
                    ) -> Tuple[Shape, Shape, Shape]:
    """(min, opt, max) NCHW shapes of an optimisation profile for one model.

    The official single-scale pipeline resizes the short side to ``input_size`` and the long
    side to a multiple of 64, so ``input_size`` is the smallest side at scale 1.0; half of it
    covers a 0.5 test scale.  ``opt`` is a 3:2 frame (512x768 for W32), ``max`` is twice the
    input size on both sides.  ``batch`` 2 holds the image and its flipped copy.
    """
    small = _round_up(input_size / 2, size_divisor)
    opt_w = _round_up(input_size * 1.5, 64)
    return ((1, 3, small, small), (batch, 3, input_size, opt_w),
            (batch, 3, 2 * input_size, 2 * input_size))


def fit_profile(shapes: Tuple[Shape, Shape, Shape], input_shape: Sequence[Optional[int]]
                ) -> Tuple[Shape, Shape, Shape]:
    """``shapes`` with every fixed dimension of the network input pinned in min, opt and max.

    A model exported with ``--static HxW`` or ``--batch N`` has those dimensions fixed, and
    TensorRT refuses a profile that ranges over a fixed dimension (only -1 dimensions may
    vary).  ``input_shape``: NCHW, an int for a fixed dimension, None (or a name) for a
    dynamic one.
    """
    fixed = [d if isinstance(d, int) and d > 0 else None for d in input_shape]
    return tuple(tuple(f if f is not None else v for v, f in zip(shape, fixed))  # type: ignore
                 for shape in shapes)


def is_static(input_shape: Sequence[Optional[int]]) -> bool:
    """Every dimension fixed: the engine has no optimisation profile (trtexec: no shape flags)."""
    return all(isinstance(d, int) and d > 0 for d in input_shape)


def release(text: str) -> Tuple[int, ...]:
    """``"10.12.0.36"`` -> (10, 12, 0): the parts a serialised plan must match exactly (a plan
    of 8.5.1 does not load in 8.5.3: "expecting library version ... please rebuild")."""
    parts = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text.strip()) if isinstance(text, str) else None
    if not parts:
        raise ValueError(f"not a TensorRT version: {text!r}")
    return tuple(int(p) for p in parts.groups(default="0"))


def format_shape(shape: Sequence[Optional[int]]) -> str:
    """``2x3x512x768``; a dynamic dimension (None) of a network input is written ``?``."""
    return "x".join("?" if v is None else str(int(v)) for v in shape)
