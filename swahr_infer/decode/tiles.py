"""Per-tile summaries of the fused maps, so decoding touches only the pixels that can matter.

The official decoder runs full-map operations (a max filter for NMS, and for refine a K x H x W
tag distance per person).  Almost all of that work is spent on pixels that cannot win.  Cutting
the maps into square tiles and keeping each tile's maximum heatmap value (and, for refine, the
bounding box of its tag vectors) lets the decoder skip whole tiles with a proof that nothing in
them can change the result, and evaluate the rest exactly.
"""

from __future__ import annotations

from typing import Dict, Tuple

import numpy as np

DEFAULT_TILE = 16


def tile_reduce(a: np.ndarray, tile: int, op: np.ufunc) -> np.ndarray:
    """Reduce each ``tile x tile`` block of a map with ``op`` (``np.maximum`` / ``np.minimum``).

    Args:
        a: C-contiguous [H, W] or [H, W, C] array.
        tile: block side in pixels; the last block row / column may be partial.
        op: a reducing ufunc; NaN propagates (np.maximum / np.minimum).

    Returns:
        [ceil(H / tile), ceil(W / tile)] (+ [C]) array of the same dtype.
    """
    h, w = a.shape[:2]
    extra = a.shape[2:]
    c = int(np.prod(extra)) if extra else 1
    flat = a.reshape(h, w * c)
    full_h = h // tile * tile
    parts = []
    if full_h:  # one vectorised pass over whole block rows
        parts.append(op.reduce(flat[:full_h].reshape(h // tile, tile, w * c), axis=1))
    if full_h < h:
        parts.append(op.reduce(flat[full_h:], axis=0, keepdims=True))
    rows = (np.concatenate(parts) if len(parts) > 1 else parts[0]).reshape(-1, w, c)
    th = rows.shape[0]
    # block columns: put the columns last (contiguous) so each block is a contiguous run
    cols = rows.reshape(th, w) if c == 1 else np.ascontiguousarray(rows.transpose(0, 2, 1))
    cols = cols.reshape(th, c, w)
    full_w = w // tile * tile
    parts = []
    if full_w:
        parts.append(op.reduce(cols[:, :, :full_w].reshape(th, c, w // tile, tile), axis=3))
    if full_w < w:
        parts.append(op.reduce(cols[:, :, full_w:], axis=2, keepdims=True))
    out = np.concatenate(parts, axis=2) if len(parts) > 1 else parts[0]  # [th, c, tw]
    return out.transpose(0, 2, 1).reshape((th, out.shape[2]) + extra)


class MapTiles:
    """Tile summaries of one image's fused maps, computed on first use and cached.

    Args:
        heatmaps: float32 [K, H, W], C-contiguous.
        tags: float32 [K, H, W, T], C-contiguous.
        tile: tile side in pixels (16 by default: 32 x 48 tiles on a 512 x 768 map).
    """

    def __init__(self, heatmaps: np.ndarray, tags: np.ndarray, tile: int = DEFAULT_TILE):
        self.heatmaps = heatmaps
        self.tags = tags
        self.tile = int(tile)
        k, h, w = heatmaps.shape
        self.shape = (h, w)
        self.grid = (-(-h // self.tile), -(-w // self.tile))
        self.partial = h % self.tile != 0 or w % self.tile != 0  # border tiles are cut
        dy, dx = np.divmod(np.arange(self.tile * self.tile), self.tile)
        self._dy, self._dx = dy[None, :], dx[None, :]
        self._offsets = self._dy * w + self._dx  # pixel offsets inside a whole tile
        y0, _, x0, _ = self.tile_bounds(np.arange(self.grid[0] * self.grid[1]))
        self.first_flat = y0 * w + x0  # smallest flat pixel index of each tile
        self._hm_max: Dict[int, np.ndarray] = {}
        self._tag_box: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}

    def heat_max(self, joint: int) -> np.ndarray:
        """float32 [th, tw]: the largest heatmap value in each tile of joint ``joint``."""
        out = self._hm_max.get(joint)
        if out is None:
            out = self._hm_max[joint] = tile_reduce(self.heatmaps[joint], self.tile, np.maximum)
        return out

    def tag_box(self, joint: int) -> Tuple[np.ndarray, np.ndarray]:
        """float32 [th, tw, T] twice: per-tile minimum and maximum of each tag component."""
        out = self._tag_box.get(joint)
        if out is None:
            plane = self.tags[joint]
            out = (tile_reduce(plane, self.tile, np.minimum),
                   tile_reduce(plane, self.tile, np.maximum))
            self._tag_box[joint] = out
        return out

    def tile_bounds(self, index: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Pixel bounds (y0, y1, x0, x1) of the tiles with flat tile indices ``index``."""
        h, w = self.shape
        ty, tx = np.divmod(np.asarray(index), self.grid[1])
        y0, x0 = ty * self.tile, tx * self.tile
        return y0, np.minimum(y0 + self.tile, h), x0, np.minimum(x0 + self.tile, w)

    def tile_pixels(self, index: np.ndarray) -> np.ndarray:
        """Flat pixel indices (y * W + x) of the given tiles: [n, tile * tile], row-major per tile.

        In partial tiles at the bottom / right border the coordinates are clamped to the map,
        which repeats pixels of the same tile (harmless for maxima and minimum indices;
        deduplicate where it matters, see :attr:`partial`).
        """
        index = np.asarray(index, np.intp).reshape(-1, 1)
        if not self.partial:
            return self.first_flat[index] + self._offsets
        h, w = self.shape
        ty, tx = np.divmod(index, self.grid[1])
        ys = np.minimum(ty * self.tile + self._dy, h - 1)
        xs = np.minimum(tx * self.tile + self._dx, w - 1)
        return ys * w + xs
