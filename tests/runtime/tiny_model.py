"""Tiny ONNX models that follow the output contract of :mod:`swahr_infer.metadata`.

Real graphs for real ONNX Runtime sessions, small enough to run in milliseconds:

* ``heatmaps`` [N, K, H/2, W/2] = Sigmoid(4 * (Conv1x1(AvgPool2(image)) - 1)) with positive
  per-joint colour weights: low on dark background, peaks on bright smooth blobs;
* ``tags`` [N, K, H/2, W/2] = Resize x2 (linear, half-pixel) of Conv3x3(AvgPool4(image)): the
  stage-0 tags computed at 1/4 and resized to 1/2 inside the graph, as exported models do;
  the kernels of all joints are close, so the joints of one blob group into one person;
* ``scales`` (optional) [N, K, H/2, W/2] = 0.5 * Tanh(Conv1x1(AvgPool2(image))).

The weights are fixed by a seed; left and right joints get different weights and the tag
kernels are not mirror-symmetric, so flip-back and joint reordering matter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from swahr_infer.metadata import ModelInfo, default_info


def make_info(num_joints: int = 17, input_size: int = 128, has_scale_output: bool = False,
              **changes) -> ModelInfo:
    """Contract metadata for a tiny model (COCO or CrowdPose layout by joint count)."""
    return default_info(num_joints, width=8, input_size=input_size, arch="tiny",
                        has_scale_output=has_scale_output, **changes)


def build_tiny_model(path: Path, info: Optional[ModelInfo] = None, *, seed: int = 0,
                     output_names: Sequence[str] = ("heatmaps", "tags", "scales"),
                     input_name: str = "image", static_shape: Optional[Sequence[int]] = None,
                     with_metadata: bool = True, quarter_tags_output: bool = False) -> Path:
    """Write a tiny contract-following ONNX model to ``path`` and return the path.

    Args:
        info: metadata to store (default :func:`make_info`); ``info.has_scale_output`` decides
            whether the ``scales`` output exists.
        output_names: names for the (heatmaps, tags, scales) outputs — change them to build a
            model that breaks the contract.
        static_shape: fixed [N, 3, H, W] instead of dynamic dimensions.
        with_metadata: store ``info`` in ``metadata_props``.
        quarter_tags_output: also output ``tags_quarter``, the 1/4-resolution tags before the
            in-graph resize (the runtime ignores extra outputs).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    info = info or make_info()
    k = info.num_joints
    rng = np.random.default_rng(seed)
    colour = rng.uniform(0.2, 1.0, (k, 3))
    w_heat = (4 * colour / colour.sum(1, keepdims=True)).reshape(k, 3, 1, 1).astype(np.float32)
    # nearly the same tag kernel for every joint: the joints of one blob share a tag (one
    # person per blob, so decoding stays quick); per-joint noise keeps the reordering visible
    w_tag = (rng.normal(0, 0.6, (1, 3, 3, 3)) + rng.normal(0, 0.02, (k, 3, 3, 3))).astype(np.float32)
    w_scale = rng.normal(0, 0.5, (k, 3, 1, 1)).astype(np.float32)
    inits = [
        numpy_helper.from_array(w_heat, "w_heat"),
        numpy_helper.from_array(np.full(k, -4.0, np.float32), "b_heat"),
        numpy_helper.from_array(w_tag, "w_tag"),
        numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "up2"),
    ]
    heat, tag, scale = output_names
    nodes = [
        helper.make_node("AveragePool", ["image_in"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("AveragePool", ["image_in"], ["p4"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Conv", ["p2", "w_heat", "b_heat"], ["h_logit"]),
        helper.make_node("Sigmoid", ["h_logit"], [heat]),
        helper.make_node("Conv", ["p4", "w_tag"], ["t4"], pads=[1, 1, 1, 1]),
        helper.make_node("Resize", ["t4", "", "up2"], [tag], mode="linear",
                         coordinate_transformation_mode="half_pixel"),
    ]
    # the graph input may be renamed to break the contract; keep the node wiring the same
    nodes.insert(0, helper.make_node("Identity", [input_name], ["image_in"]))
    dims = list(static_shape) if static_shape else ["N", 3, "H", "W"]
    out_dims = ([dims[0], k, dims[2] // 2, dims[3] // 2] if static_shape
                else ["N", k, "h", "w"])
    outputs = [helper.make_tensor_value_info(heat, TensorProto.FLOAT, out_dims),
               helper.make_tensor_value_info(tag, TensorProto.FLOAT, out_dims)]
    if info.has_scale_output:
        inits += [numpy_helper.from_array(w_scale, "w_scale"),
                  numpy_helper.from_array(np.array([0.5], np.float32), "half")]
        nodes += [
            helper.make_node("Conv", ["p2", "w_scale"], ["s_lin"]),
            helper.make_node("Tanh", ["s_lin"], ["s_tanh"]),
            helper.make_node("Mul", ["s_tanh", "half"], [scale]),
        ]
        outputs.append(helper.make_tensor_value_info(scale, TensorProto.FLOAT, out_dims))
    if quarter_tags_output:
        q_dims = ([dims[0], k, dims[2] // 4, dims[3] // 4] if static_shape
                  else ["N", k, "h4", "w4"])
        outputs.append(helper.make_tensor_value_info("t4", TensorProto.FLOAT, q_dims))
    graph = helper.make_graph(
        nodes, "tiny_swahr",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, dims)], outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by older ONNX Runtime releases too
    if with_metadata:
        helper.set_model_props(model, info.to_props())
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path


def pose_model(path: Path, channels: int = 17, nan_when_black: bool = False) -> Path:
    """A model with valid swahr-infer metadata for 17 joints whose outputs have ``channels``
    channels (17: as the metadata says; another count contradicts it); with
    ``nan_when_black``, NaN heatmaps for an all-black image (only)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = rng.uniform(0.2, 1.0, (channels, 3, 1, 1)).astype(np.float32)
    inits = [numpy_helper.from_array(weights, "w"),
             numpy_helper.from_array(np.full(channels, -4.0, np.float32), "b"),
             numpy_helper.from_array(np.array(0.5, np.float32), "half")]
    heat = "heat" if nan_when_black else "heatmaps"
    nodes = [
        helper.make_node("AveragePool", ["image"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p2", "w", "b"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], [heat]),
        helper.make_node("Conv", ["p2", "w"], ["tags"]),
    ]
    if nan_when_black:
        # sqrt(max(normalised image) - 0.5): NaN when no pixel is bright (a black image,
        # whatever the padding), finite for the blob images
        nodes += [helper.make_node("ReduceMax", ["image"], ["peak"], keepdims=1),
                  helper.make_node("Sub", ["peak", "half"], ["shifted"]),
                  helper.make_node("Sqrt", ["shifted"], ["root"]),
                  helper.make_node("Mul", [heat, "root"], ["heatmaps"])]
    out_dims = ["N", channels, "h", "w"]
    graph = helper.make_graph(
        nodes, "pose_outputs",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("heatmaps", TensorProto.FLOAT, out_dims),
         helper.make_tensor_value_info("tags", TensorProto.FLOAT, out_dims)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, make_info().to_props())
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
