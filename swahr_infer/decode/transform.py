"""Step 7 of decoding: heatmap pixels to image pixels with a 2 x 3 affine."""

from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = ["to_image"]


def to_image(persons: np.ndarray, affine: Optional[np.ndarray] = None) -> np.ndarray:
    """float32 [N, K, 3] (x, y, value) keypoints in image pixels.

    Args:
        persons: float32 [N, K, >= 3] (x, y, value, ...) in heatmap pixels.
        affine: [2, 3] matrix mapping heatmap (x, y, 1) to image (x, y); None = identity.

    Every joint row is mapped, missing ones (value 0, at the heatmap origin) included, as the
    official ``get_final_preds`` does; the arithmetic is float64 and the result is rounded to
    float32 once, as there.
    """
    out = np.array(persons[..., :3], dtype=np.float32, copy=True).reshape(-1, persons.shape[1], 3)
    if affine is None or len(out) == 0:
        return out
    a = np.asarray(affine, np.float64)
    x = out[..., 0].astype(np.float64)
    y = out[..., 1].astype(np.float64)
    out[..., 0] = a[0, 0] * x + a[0, 1] * y + a[0, 2]
    out[..., 1] = a[1, 0] * x + a[1, 1] * y + a[1, 2]
    return out
