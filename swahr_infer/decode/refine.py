"""Steps 4 and 6 of decoding: quarter-pixel adjustment and filling missing joints (refine).

Adjust (SPEC.md "Decoding" 4): a found joint at integer (x, y) moves a quarter pixel towards its
larger horizontal / vertical neighbour on the raw fused heatmap (to the left / up on a tie), then
by +0.5 to the pixel centre.

Refine (SPEC.md "Decoding" 6): for each person, every missing joint j is looked up at

    argmax over all pixels of  hm[j] - round(|| tags[j] - mean tag of the person ||)

(numpy ``argmax`` semantics: the first flat index among equal maxima) and filled when the
heatmap value there is positive.  The official code evaluates this on the full map for every
joint of every person, which dominates its run time.  Here the argmax is found exactly by branch
and bound over tiles: a tile cannot beat ``max(hm in tile) - round(distance from the mean to the
tile's tag bounding box)`` (round and float32 subtraction are monotone, and the box distance is
shrunk by a relative 1e-5 to stay below any float32-rounded pixel distance), so tiles are
evaluated exactly in descending bound order until the bound falls below the best value found.
A tile whose bound equals the best value is still evaluated when it holds a smaller flat index,
which reproduces numpy's tie rule.  All persons missing the same joint are searched together.
Refine of one person reads only that person's joints, so joint-by-joint order gives the same
result as the official person-by-person loop.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from .tiles import MapTiles

__all__ = ["adjust_joints", "refine_people", "TagArgmax"]

# Box distances are computed in float32 (relative error < 5e-7) and shrunk by 1e-5, which keeps
# them below every pixel distance the official float32 expression can produce in that tile.
_SHRINK = np.float32(1.0 - 1e-5)
_FIRST_ROUND = 4  # tiles per query evaluated before pruning; later rounds grow 4x


def _sum_squares(diffs: Sequence[np.ndarray]) -> np.ndarray:
    """Sum over tag dimensions of ``d ** 2``, rounded as the official ``(d ** 2).sum(axis=-1)``.

    The tag dimensions come as separate arrays (contiguous, fast to combine; a [..., T] layout
    makes every numpy loop T elements long).  numpy reduces a short last axis with one addition
    for T = 2, so ``sq0 + sq1`` is bit-identical; for T >= 3 numpy itself does the reduction.
    """
    sq = [d ** 2 for d in diffs]
    if len(sq) == 1:
        return sq[0]
    if len(sq) == 2:
        return sq[0] + sq[1]
    return np.stack(sq, axis=-1).sum(axis=-1)


def _shifts(heatmaps: np.ndarray, js: np.ndarray, ys: np.ndarray, xs: np.ndarray):
    """float32 (dx, dy): +0.25 towards the larger neighbour, -0.25 on ties (clamped indices)."""
    _, h, w = heatmaps.shape
    right = heatmaps[js, ys, np.minimum(xs + 1, w - 1)]
    left = heatmaps[js, ys, np.maximum(xs - 1, 0)]
    down = heatmaps[js, np.minimum(ys + 1, h - 1), xs]
    up = heatmaps[js, np.maximum(ys - 1, 0), xs]
    q = np.float32(0.25)
    return np.where(right > left, q, -q), np.where(down > up, q, -q)


def adjust_joints(persons: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """Quarter-pixel adjustment of every found joint (value > 0).

    Args:
        persons: float32 [N, K, 3 + T] from grouping (integer x, y).
        heatmaps: float32 [K, H, W] raw fused heatmaps (before NMS).

    Returns:
        A copy of ``persons`` with found joints at ``x + 0.5 +- 0.25``, ``y + 0.5 +- 0.25``.
    """
    out = persons.copy()
    pi, ji = np.nonzero(out[:, :, 2] > 0)
    if pi.size == 0:
        return out
    xs = out[pi, ji, 0].astype(np.intp)
    ys = out[pi, ji, 1].astype(np.intp)
    dx, dy = _shifts(heatmaps, ji, ys, xs)
    half = np.float32(0.5)
    out[pi, ji, 0] = (out[pi, ji, 0] + dx) + half
    out[pi, ji, 1] = (out[pi, ji, 1] + dy) + half
    return out


class TagArgmax:
    """Exact ``argmax(hm[j] - round(||tags[j] - mean||))`` by branch and bound over tiles.

    Each query (one mean tag) first evaluates its 4 tiles with the highest bounds; the best
    pixel found is a lower bound of the answer, so only tiles whose bound reaches it (an equal
    bound only when the tile starts at an earlier pixel) remain.  Those are visited in
    descending bound order (ties in tile order, which is first-pixel order) in rounds of 4, 16,
    64, ... tiles; a query is finished when its next tile cannot win, because no later one can.
    Queries for the same joint run together, so the numpy work is shared.

    Args:
        tiles: tile summaries of the maps (heatmap tile maxima and tag boxes, cached per joint).
    """

    def __init__(self, tiles: MapTiles):
        self.tiles = tiles
        self._boxes = {}
        self.tiles_evaluated = 0  # statistics for benchmarks

    def bounds(self, joint: int, means: np.ndarray) -> np.ndarray:
        """float32 [Q, th * tw]: an upper bound of each query's objective inside each tile."""
        box = self._boxes.get(joint)
        if box is None:  # per tag dimension, [1, tiles] each
            lo, hi = self.tiles.tag_box(joint)
            box = self._boxes[joint] = (
                [np.ascontiguousarray(lo[..., t]).reshape(1, -1) for t in range(lo.shape[-1])],
                [np.ascontiguousarray(hi[..., t]).reshape(1, -1) for t in range(hi.shape[-1])],
                self.tiles.heat_max(joint).reshape(1, -1),
            )
        lo, hi, heat = box
        gaps = []
        for t in range(len(lo)):
            m = means[:, t:t + 1]
            gap = np.maximum(lo[t] - m, m - hi[t])
            gaps.append(np.maximum(gap, np.float32(0), out=gap))
        box_dist = np.sqrt(_sum_squares(gaps)) * _SHRINK
        return heat - np.round(box_dist)

    def __call__(self, joint: int, means: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(y [Q], x [Q], objective value [Q]) of each query's first maximum, as ``np.argmax``.

        Args:
            joint: heatmap / tag channel.
            means: float32 [Q, T] query tags (a person's mean tag each).
        """
        means = np.asarray(means, np.float32).reshape(len(means), -1)
        q = len(means)
        ub = self.bounds(joint, means)
        n = ub.shape[1]
        first = self.tiles.first_flat
        best_v = np.full(q, -np.inf, np.float32)
        best_flat = np.full(q, self.tiles.shape[0] * self.tiles.shape[1], np.intp)

        # round 0: the few highest bounds of every query, in any order
        c0 = min(_FIRST_ROUND, n)
        top = np.argpartition(-ub, c0 - 1, axis=1)[:, :c0] if n > c0 else np.tile(np.arange(n), (q, 1))
        qs = np.repeat(np.arange(q), c0)
        self._update(joint, means, qs, top.ravel(), best_v, best_flat)

        # the tiles that can still win, per query by bound descending, then tile index
        can = (ub > best_v[:, None]) | ((ub == best_v[:, None]) & (first[None, :] < best_flat[:, None]))
        can[qs, top.ravel()] = False
        cq, ct = np.nonzero(can)
        if cq.size:
            cu = ub[cq, ct]
            order = np.lexsort((ct, -cu, cq))
            cq, ct, cu = cq[order], ct[order], cu[order]
            starts = np.flatnonzero(np.concatenate(([True], cq[1:] != cq[:-1])))
            rank = np.arange(cq.size) - np.repeat(starts, np.diff(np.append(starts, cq.size)))
            active = np.ones(q, bool)
            lo, chunk = 0, _FIRST_ROUND
            while True:
                sel = np.flatnonzero((rank >= lo) & (rank < lo + chunk) & active[cq])
                if sel.size == 0:
                    break
                sq, st, su = cq[sel], ct[sel], cu[sel]
                win = (su > best_v[sq]) | ((su == best_v[sq]) & (first[st] < best_flat[sq]))
                head = rank[sel] == lo  # each query's highest remaining bound
                active[sq[head & ~win]] = False  # it cannot win, so no later tile can
                if win.any():
                    self._update(joint, means, sq[win], st[win], best_v, best_flat)
                lo, chunk = lo + chunk, chunk * 4
        y, x = np.divmod(best_flat, self.tiles.shape[1])
        return y, x, best_v

    def _update(self, joint: int, means: np.ndarray, query: np.ndarray, tile: np.ndarray,
                best_v: np.ndarray, best_flat: np.ndarray) -> None:
        """Evaluate (query, tile) pairs exactly and improve each query's best (in place)."""
        self.tiles_evaluated += tile.size
        # gather each distinct tile once (queries share tiles), then copy whole rows
        uniq, inv = np.unique(tile, return_inverse=True)
        flat_u = self.tiles.tile_pixels(uniq)  # [u, tile * tile], increasing along each row
        tag = self.tiles.tags[joint]
        hm = self.tiles.heatmaps[joint].reshape(-1)[flat_u][inv]
        m = means[query]
        # the official float32 expression, pixel by pixel, one tag dimension at a time
        diffs = [tag[..., t].reshape(-1)[flat_u][inv] - m[:, t:t + 1] for t in range(m.shape[1])]
        score = hm - np.round(_sum_squares(diffs) ** 0.5)
        first_max = np.argmax(score, axis=1)  # the first maximum is the smallest flat index
        v, f = score[np.arange(tile.size), first_max], flat_u[inv, first_max]
        # best pair per query: value descending, then flat index ascending
        pick = np.lexsort((f, -v, query))
        query, v, f = query[pick], v[pick], f[pick]
        head = np.ones(query.size, bool)
        head[1:] = query[1:] != query[:-1]
        query, v, f = query[head], v[head], f[head]
        better = (v > best_v[query]) | ((v == best_v[query]) & (f < best_flat[query]))
        best_v[query[better]] = v[better]
        best_flat[query[better]] = f[better]


def refine_people(persons: np.ndarray, heatmaps: np.ndarray, tags: np.ndarray, *,
                  tiles: Optional[MapTiles] = None) -> np.ndarray:
    """Fill each person's missing joints from the whole map (official refine).

    Args:
        persons: float32 [N, K, 3 + T] after :func:`adjust_joints` (or integer positions when
            adjust is off).
        heatmaps: float32 [K, H, W]; tags: float32 [K, H, W, T] (both C-contiguous).
        tiles: tile summaries to reuse; built here if not given.

    Returns:
        A copy of ``persons`` where every missing joint (value 0) whose best position has a
        positive heatmap value is set to (x + 0.5 +- 0.25, y + 0.5 +- 0.25, value).  The tag
        columns are left as they were.
    """
    out = persons.copy()
    if len(out) == 0:
        return out
    tiles = tiles if tiles is not None else MapTiles(heatmaps, tags)
    search = TagArgmax(tiles)
    num_joints = out.shape[1]
    means = np.zeros((len(out), tags.shape[3]), np.float32)
    for i, person in enumerate(out):
        found = np.flatnonzero(person[:, 2] > 0)
        if found.size == 0:  # cannot come out of grouping; nothing to average
            continue
        xs = person[found, 0].astype(np.int32)
        ys = person[found, 1].astype(np.int32)
        means[i] = np.mean(tags[found, ys, xs], axis=0)  # float32, as the official code
    missing = (out[:, :, 2] == 0) & (out[:, :, 2] > 0).any(axis=1, keepdims=True)
    half = np.float32(0.5)
    for j in range(num_joints):
        who = np.flatnonzero(missing[:, j])
        if who.size == 0:
            continue
        ys, xs, _ = search(j, means[who])
        value = heatmaps[j, ys, xs]
        fill = value > 0
        who, ys, xs, value = who[fill], ys[fill], xs[fill], value[fill]
        if who.size == 0:
            continue
        dx, dy = _shifts(heatmaps, np.full(who.size, j), ys, xs)
        out[who, j, 0] = (xs.astype(np.float32) + half) + dx
        out[who, j, 1] = (ys.astype(np.float32) + half) + dy
        out[who, j, 2] = value
    return out
