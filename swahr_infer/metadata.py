"""The contract between an exported model and the runtime, stored in ONNX ``metadata_props``.

The exporter (``export/``) writes a :class:`ModelInfo`; the runtime reads it back so that users
never pass joint counts, flip indices, normalisation or decoding thresholds by hand.  Each field
is stored under its own ``swahr.<field>`` key with a JSON value, so the props stay readable in
Netron and ``onnx.load(...).metadata_props``.

Output contract (``OUTPUTS``) of an exported graph, input ``image`` float32 [N, 3, H, W]
(normalised RGB, H and W multiples of 32):

* ``heatmaps`` [N, K, H/2, W/2]: mean of the two HigherHRNet stages' heatmaps, stage 0 resized
  bilinearly (align_corners=False) to stage-1 size first, scale channels dropped.
* ``tags`` [N, K, H/2, W/2]: stage-0 associative-embedding tags resized bilinearly to stage-1
  size (the first of the official pipeline's two tag resizes).
* ``scales`` [N, K, H/2, W/2] (only when ``has_scale_output``): the stage-1 SAHR scale map
  ``s``.  SWAHR trains heatmaps towards ``gt ** (1 + s)``, i.e. a Gaussian of width
  ``sigma0 / sqrt(1 + s)``; the runtime reports ``1 / sqrt(1 + s)`` as the sigma multiplier.

Flip, flip-back, joint reordering, projection to the input size and scale fusion stay in the
runtime: they are cheap, and keeping them outside the graph keeps batch-2 (image + flipped
image) engines simple.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Dict, Mapping, Optional, Tuple

from .errors import ModelError
from .skeleton import COCO, LAYOUTS, Layout, layout_for

FORMAT_VERSION = 1
INPUT_NAME = "image"
OUTPUTS = ("heatmaps", "tags", "scales")
PREFIX = "swahr."


@dataclass(frozen=True)
class DecodeDefaults:
    """Official test-time decoding parameters (SPEC.md "Configurations")."""

    detection_threshold: float = 0.1
    tag_threshold: float = 1.0
    max_num_people: int = 30
    nms_kernel: int = 5
    use_detection_val: bool = True
    adjust: bool = True
    refine: bool = True


@dataclass(frozen=True)
class ModelInfo:
    """What the runtime needs to know about an exported SWAHR / HigherHRNet model."""

    arch: str = "w32"  # e.g. "w32", "w48", or "custom"
    width: int = 32
    num_joints: int = 17
    dataset: str = "coco"  # keypoint layout name: "coco" or "crowdpose"
    joint_names: Tuple[str, ...] = COCO.joint_names
    flip_index: Tuple[int, ...] = COCO.flip_index
    input_size: int = 512
    mean: Tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: Tuple[float, float, float] = (0.229, 0.224, 0.225)
    output_stride: int = 2  # input pixels per heatmap pixel of the graph outputs
    size_divisor: int = 32  # H and W of the input must be multiples of this
    has_scale_heads: bool = True  # SWAHR (True) or plain HigherHRNet (False)
    has_scale_output: bool = False  # graph has the optional ``scales`` output
    precision: str = "fp32"  # "fp32" or "fp16" (weights/compute; I/O stays float32)
    decode: DecodeDefaults = field(default_factory=DecodeDefaults)
    exporter_version: str = ""
    format_version: int = FORMAT_VERSION

    @property
    def layout(self) -> Layout:
        base = LAYOUTS.get(self.dataset) or layout_for(self.num_joints)
        return Layout(base.name, tuple(self.joint_names), tuple(self.flip_index),
                      base.skeleton, base.sigmas)

    def to_props(self) -> Dict[str, str]:
        """Serialise as ``{"swahr.<field>": json}`` for ONNX ``metadata_props``."""
        return {PREFIX + k: json.dumps(v) for k, v in asdict(self).items()}

    @classmethod
    def from_props(cls, props: Mapping[str, str], source: str = "model") -> "ModelInfo":
        """Parse metadata written by :meth:`to_props`; raise :class:`ModelError` if absent."""
        ours = {k[len(PREFIX):]: v for k, v in props.items() if k.startswith(PREFIX)}
        if not ours:
            raise ModelError(
                f"{source} has no swahr-infer metadata: re-export it with `swahr-infer export`"
                " (or, in Python, pass a ModelInfo)"
            )
        known = {f.name for f in fields(cls)}
        values = {}
        for key, raw in ours.items():
            if key not in known:
                continue  # written by a newer exporter; ignore what we do not understand
            try:
                values[key] = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ModelError(f"{source}: metadata {PREFIX}{key} is not valid JSON") from exc
        try:
            if int(values.get("format_version", FORMAT_VERSION)) > FORMAT_VERSION:
                raise ModelError(
                    f"{source} was written by a newer swahr-infer (metadata format "
                    f"{values['format_version']}); upgrade swahr-infer"
                )
            if "decode" in values:
                decode_fields = {f.name for f in fields(DecodeDefaults)}
                # as at the top level: keys a newer exporter added are ignored
                values["decode"] = DecodeDefaults(**{k: v for k, v in values["decode"].items()
                                                     if k in decode_fields})
            for key in ("joint_names", "flip_index", "mean", "std"):
                if key in values:
                    values[key] = tuple(values[key])
            info = cls(**values)
        except (TypeError, ValueError, AttributeError) as exc:  # a value of the wrong kind
            raise ModelError(f"{source}: malformed {PREFIX}* metadata ({exc})") from None
        info.validate(source)
        return info

    def validate(self, source: str = "model") -> None:
        k = self.num_joints
        if len(self.joint_names) != k or len(self.flip_index) != k:
            raise ModelError(
                f"{source}: metadata disagrees with itself: num_joints={k} but "
                f"{len(self.joint_names)} joint names and {len(self.flip_index)} flip indices"
            )
        if sorted(self.flip_index) != list(range(k)):
            raise ModelError(f"{source}: flip_index is not a permutation of 0..{k - 1}")


def default_info(num_joints: int = 17, width: int = 32, **overrides) -> ModelInfo:
    """ModelInfo with the official defaults for a joint count and width (W32 -> 512, 0.12)."""
    layout = layout_for(num_joints)
    official = {32: (512, 0.12), 48: (640, 0.10)}
    input_size, threshold = official.get(width, (512, 0.1))
    arch = f"w{width}" if width in official else "custom"
    info = ModelInfo(
        arch=arch, width=width, num_joints=num_joints, dataset=layout.name,
        joint_names=layout.joint_names, flip_index=layout.flip_index,
        input_size=input_size, decode=DecodeDefaults(detection_threshold=threshold),
    )
    return replace_info(info, **overrides) if overrides else info


def replace_info(info: ModelInfo, **changes) -> ModelInfo:
    from dataclasses import replace
    return replace(info, **changes)


def read_onnx_props(path: str) -> Optional[Dict[str, str]]:
    """metadata_props of an ONNX file without loading its weights into onnx (uses onnxruntime).

    Raises ModelError for a missing file or one ONNX Runtime cannot load (not ONNX, truncated),
    as the ONNX Runtime backend does: `build` and `trtexec` read models through this, and
    onnxruntime's own exceptions are not errors the command line reports in one line.
    """
    return read_onnx_model(path)[0]


def read_onnx_model(path: str) -> Tuple[Dict[str, str], Tuple[Optional[int], ...]]:
    """(metadata_props, the input's NCHW shape) of an ONNX file: an int for each fixed
    dimension (``export --static`` / ``--batch``), None for a dynamic one.  The errors of
    :func:`read_onnx_props`."""
    import os

    import onnxruntime as ort  # a runtime dependency

    if not os.path.isfile(path):
        what = "a folder, not a model file" if os.path.isdir(path) else "no such model file"
        raise ModelError(f"{path}: {what}")
    sess_opts = ort.SessionOptions()
    # only the graph's description is read: optimising it would cost seconds for nothing
    sess_opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        sess = ort.InferenceSession(str(path), sess_opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ModelError(f"{path}: not an ONNX model ONNX Runtime can load ({exc})") from exc
    shape = tuple(d if isinstance(d, int) else None for d in sess.get_inputs()[0].shape)
    return dict(sess.get_modelmeta().custom_metadata_map), shape
