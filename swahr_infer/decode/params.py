"""Decoding parameters (the official ``cfg.TEST`` / ``cfg.DATASET`` values the decoder reads)."""

from __future__ import annotations

from dataclasses import dataclass, fields

ASSIGNMENTS = ("scipy", "munkres")

from ..errors import OptionError
from ..metadata import DecodeDefaults

__all__ = ["ASSIGNMENTS", "DecodeParams"]


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
        if not self.detection_threshold >= 0:
            raise OptionError(f"detection_threshold must be >= 0, got {self.detection_threshold}")
        if not self.tag_threshold > 0:
            raise OptionError(f"tag_threshold must be > 0, got {self.tag_threshold}")
        if int(self.max_num_people) < 1:
            raise OptionError(f"max_num_people must be >= 1, got {self.max_num_people}")
        if int(self.nms_kernel) < 1 or int(self.nms_kernel) % 2 == 0:
            raise OptionError(f"nms_kernel must be odd and >= 1, got {self.nms_kernel}")
        if self.assignment not in ASSIGNMENTS:
            raise OptionError(f"assignment must be one of {', '.join(ASSIGNMENTS)}, "
                             f"got {self.assignment!r}")

    @classmethod
    def from_defaults(cls, defaults: DecodeDefaults, **overrides) -> "DecodeParams":
        """Parameters from a model's metadata defaults (``ModelInfo.decode``), with overrides."""
        values = {f.name: getattr(defaults, f.name) for f in fields(cls) if hasattr(defaults, f.name)}
        values.update(overrides)
        return cls(**values)
