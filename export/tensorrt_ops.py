"""Which ONNX operators (and attributes) the TensorRT ONNX parser accepts, for the ops we emit.

Source: onnx/onnx-tensorrt ``docs/operators.md`` ("Operator Support Matrix"), read at
  * 6872a9473391a73b96741711d52b98c2c3e25146 (ONNX-TensorRT 8.6-EA release): "TensorRT 8.6
    supports operators up to Opset 17";
  * 96e781103cfc4adf4a6bb557e94bac8e693f6f4c (ONNX-TensorRT 10.1 GA release): "TensorRT 10.0
    supports operators in the inclusive range of opset 9 to opset 20".
Both list every operator below as supported (FP32 and FP16), with the restrictions encoded in
:func:`tensorrt_problems`.  The list is deliberately only what an exported SWAHR graph needs:
a new operator appearing in the graph must be checked against the matrix and added here.
"""

from __future__ import annotations

from typing import Dict, List

# TensorRT 8.6 (JetPack 5) is the oldest version we target; it parses opsets up to 17.
MAX_OPSET = 17

# operator -> restriction quoted (shortened) from the support matrix; "" where there is none
SUPPORTED_OPS: Dict[str, str] = {
    "Add": "",
    "Cast": "",
    "Concat": "",
    "Constant": "sparse_value / value_string(s) unsupported",
    "Conv": "2D or 3D only; weights W must be an initializer",
    "ConvTranspose": "2D or 3D only; weights W must be an initializer",
    "Div": "",
    "Identity": "",
    "Mul": "",
    "Relu": "",
    "Resize": "transformation modes half_pixel, pytorch_half_pixel, tf_half_pixel_for_nn, "
              "asymmetric, align_corners; modes nearest, linear; nearest modes floor, ceil, "
              "round_prefer_floor, round_prefer_ceil; aspect ratio policy stretch; "
              "no antialiasing",
    "Slice": "axes must be an initializer",
    "Split": "",
}

RESIZE_TRANSFORMS = {"half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn", "asymmetric",
                     "align_corners"}
RESIZE_MODES = {"nearest", "linear"}
RESIZE_NEAREST_MODES = {"floor", "ceil", "round_prefer_floor", "round_prefer_ceil"}


def _attrs(node) -> Dict[str, object]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def tensorrt_problems(model) -> List[str]:
    """Reasons the TensorRT ONNX parser (8.6 and 10.x) would reject ``model``; [] if none."""
    graph = model.graph
    constants = {i.name for i in graph.initializer}
    constants |= {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    problems: List[str] = []
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx") and opset.version > MAX_OPSET:
            problems.append(f"opset {opset.version} > {MAX_OPSET} (TensorRT 8.6 limit)")
    for node in graph.node:
        where = f"{node.op_type} node {node.name!r}"
        if node.domain not in ("", "ai.onnx") or node.op_type not in SUPPORTED_OPS:
            problems.append(f"{where}: operator not in the allow-list")
            continue
        attrs = _attrs(node)
        if node.op_type in ("Conv", "ConvTranspose"):
            if node.input[1] not in constants:
                problems.append(f"{where}: weights are not an initializer")
            kernel = attrs.get("kernel_shape")
            if kernel is not None and len(kernel) not in (2, 3):
                problems.append(f"{where}: {len(kernel)}D convolution")
        elif node.op_type == "Resize":
            transform = _text(attrs.get("coordinate_transformation_mode", "half_pixel"))
            mode = _text(attrs.get("mode", "nearest"))
            nearest = _text(attrs.get("nearest_mode", "round_prefer_floor"))
            if transform not in RESIZE_TRANSFORMS:
                problems.append(f"{where}: coordinate_transformation_mode {transform}")
            if mode not in RESIZE_MODES:
                problems.append(f"{where}: mode {mode}")
            if mode == "nearest" and nearest not in RESIZE_NEAREST_MODES:
                problems.append(f"{where}: nearest_mode {nearest}")
            if attrs.get("antialias", 0):
                problems.append(f"{where}: antialias")
            if _text(attrs.get("keep_aspect_ratio_policy", "stretch")) != "stretch":
                problems.append(f"{where}: keep_aspect_ratio_policy")
        elif node.op_type == "Slice":
            if len(node.input) > 3 and node.input[3] and node.input[3] not in constants:
                problems.append(f"{where}: axes are not an initializer")
    return problems
