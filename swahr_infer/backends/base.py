"""The one interface every inference backend implements.

A backend owns a loaded network and nothing else: it takes a normalised float32 batch and
returns the graph outputs by name (``heatmaps``, ``tags`` and optionally ``scales``, see
:mod:`swahr_infer.metadata`).  Flip handling, fusion and decoding stay in the pipeline, so a new
backend is a small module; the pipeline never asks which backend it talks to.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from ..errors import ModelError
from ..metadata import INPUT_NAME, OUTPUTS, ModelInfo


class Backend(ABC):
    """A loaded SWAHR network.

    Attributes:
        info: the model's self-description (from its metadata).
        input_name: name of the image input (``"image"``).
        output_names: names of the outputs returned by :meth:`run`, in graph order.
        input_shape: [N, 3, H, W] with ``None`` for dynamic dimensions.
    """

    info: ModelInfo
    input_name: str = INPUT_NAME
    output_names: Tuple[str, ...] = ()
    input_shape: Tuple[Optional[int], ...] = (None, 3, None, None)

    @abstractmethod
    def run(self, batch: np.ndarray) -> Dict[str, np.ndarray]:
        """Run the network.

        Args:
            batch: float32 [N, 3, H, W], normalised RGB, H and W multiples of
                ``info.size_divisor``.

        Returns:
            name -> float32 [N, K, H / stride, W / stride] host arrays.
        """

    @property
    def on_device(self) -> bool:
        """Whether :meth:`run_device` works: inputs and outputs can stay on the GPU."""
        return False

    def run_device(self, batch, stream) -> Dict[str, object]:
        """Run on a CuPy float32 [N, 3, H, W] batch without leaving the GPU.

        The work is queued on ``stream`` (a ``cupy.cuda.Stream``) after whatever is already
        queued there; the returned CuPy float32 arrays (same names and shapes as :meth:`run`)
        are valid in that stream's order and until the next call (a backend may reuse its
        output buffers, e.g. CUDA graphs).  Only backends whose :attr:`on_device` is true
        implement it; :class:`swahr_infer.gpu.GpuPipeline` uses it.
        """
        raise NotImplementedError(f"{type(self).__name__} does not run on the device")

    def close(self) -> None:
        """Release the session / engine (idempotent)."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check_input_size(self, width: int, height: int) -> None:
        """Raise :class:`ModelError` if the network cannot take an input of this size."""
        div = self.info.size_divisor
        if width % div or height % div:
            raise ModelError(f"network input {width}x{height} is not a multiple of {div}; "
                             "choose test scales whose sizes are (see swahr_infer.preprocess)")
        fixed_h, fixed_w = self.input_shape[2], self.input_shape[3]
        if (fixed_h is not None and fixed_h != height) or (fixed_w is not None and fixed_w != width):
            raise ModelError(
                f"the model was exported for a fixed input of {fixed_h}x{fixed_w} (HxW, as "
                f"export --static takes it) but this image needs {height}x{width}; export with "
                "dynamic height/width")


def expected_outputs(info: ModelInfo) -> Sequence[str]:
    """The outputs the runtime reads from a model with this metadata."""
    return [n for n in OUTPUTS if n != "scales" or info.has_scale_output]


def check_io(source: str, info: ModelInfo, input_name: str, input_rank: int,
             outputs: Dict[str, int], input_channels: Optional[int] = 3) -> None:
    """Check a graph's input and output names and ranks against the output contract.

    Args:
        source: the model's name, for messages.
        info: the model's metadata.
        input_name, input_rank: the graph's (single) input.
        outputs: output name -> rank.
        input_channels: the input's channel dimension when static.

    Raises:
        ModelError: naming what differs.
    """
    if input_name != INPUT_NAME:
        raise ModelError(f"{source}: input is called {input_name!r}, expected {INPUT_NAME!r} "
                         "(re-export with `swahr-infer export`)")
    if input_rank != 4 or input_channels not in (None, 3):
        raise ModelError(f"{source}: input must be [N, 3, H, W]")
    required = expected_outputs(info)
    missing = [n for n in required if n not in outputs]
    if missing:
        raise ModelError(f"{source}: missing output(s) {missing}; the graph has "
                         f"{sorted(outputs)} (expected {required})")
    bad = [n for n in required if outputs[n] != 4]
    if bad:
        raise ModelError(f"{source}: output(s) {bad} must be 4-D [N, K, H, W]")
