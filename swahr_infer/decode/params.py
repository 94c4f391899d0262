"""Decoding parameters (the official ``cfg.TEST`` / ``cfg.DATASET`` values the decoder reads)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..checks import is_finite_number
from ..errors import OptionError
from ..metadata import DecodeDefaults

__all__ = ["ASSIGNMENTS", "DecodeParams"]

ASSIGNMENTS = ("scipy", "munkres")


@dataclass(frozen=True)
class DecodeParams(DecodeDefaults):
    """How fused network outputs become poses; defaults are the official ones (SPEC.md).

    The fields are those of :class:`~swahr_infer.metadata.DecodeDefaults` (what a model's
    metadata carries), checked here:

    Attributes:
        detection_threshold: a heatmap peak must be strictly above this to be a candidate
            (official 0.1; 0.12 for the COCO W32 model).  Must be >= 0 (with a negative one the
            official top-k would pick arbitrary zero pixels).
        tag_threshold: a candidate joins a person when its tag distance is below this.
        max_num_people: candidates per joint (top-k) and persons taking part in matching.
        nms_kernel: odd side of the NMS window (padding kernel // 2).
        use_detection_val: matching cost round(distance) * 100 - value instead of distance.
        adjust: quarter-pixel shift towards the larger neighbour, then +0.5.
        refine: fill each person's missing joints from the whole map.
        assignment: the solver of each joint's matching: "scipy" (``linear_sum_assignment``,
            the default) or "munkres" (the ``munkres`` package, called as the official code
            calls it).  They differ only where several assignments cost the same (SPEC.md
            "Ties"); with "munkres" the poses equal the official code's run with the same
            munkres version even then.  Not model metadata: a choice of the runtime.
    """

    assignment: str = "scipy"

    def __post_init__(self) -> None:
        # numbers only (a string '0.1' or a bool would fail deep in decoding, or not at all);
        # counts may come as whole floats (10.0, e.g. from JSON) and are stored as ints, since
        # top-k and the NMS window index with them
        for name, low, strict in (("detection_threshold", 0.0, False), ("tag_threshold", 0.0, True)):
            value = getattr(self, name)
            if not is_finite_number(value) or not (value > low if strict else value >= low):
                raise OptionError(f"{name} must be a number {'>' if strict else '>='} {low:g}, "
                                  f"got {value!r}")
        for name, odd in (("max_num_people", False), ("nms_kernel", True)):
            value = getattr(self, name)
            if not is_finite_number(value) or value != int(value) or int(value) < 1 or (
                    odd and int(value) % 2 == 0):
                raise OptionError(f"{name} must be {'an odd' if odd else 'a'} whole number >= 1, "
                                  f"got {value!r}")
            object.__setattr__(self, name, int(value))  # frozen: set once, here
        if self.assignment not in ASSIGNMENTS:
            raise OptionError(f"assignment must be one of {', '.join(ASSIGNMENTS)}, "
                             f"got {self.assignment!r}")

    @classmethod
    def from_defaults(cls, defaults: DecodeDefaults, **overrides) -> "DecodeParams":
        """Parameters from a model's metadata defaults (``ModelInfo.decode``), with overrides."""
        values = {f.name: getattr(defaults, f.name) for f in fields(cls) if hasattr(defaults, f.name)}
        values.update(overrides)
        return cls(**values)
