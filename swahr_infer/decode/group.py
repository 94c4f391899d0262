"""Step 3 of decoding: group candidates into persons by their tags (associative embedding).

Joint by joint in the official order (:func:`swahr_infer.skeleton.joint_order`), candidates above
the threshold either join an open person whose mean tag is close, or open a new person.  This is
a re-implementation of the official ``match_by_tag`` behaviour (SPEC.md "Decoding" 3), including
its quirks, because identical poses need them:

* Persons are identified by the first tag component of the candidate that opened them.  A new
  person whose key equals an existing person's key is *merged* into that person: the joint is
  written into the existing row and that person's tag list restarts from the new tag.
* Only the first ``max_num_people`` persons in opening order take part in matching; later
  ones still receive joints through the key merge above.
* cost = round(L2 tag distance) * 100 - candidate value (``use_detection_val``), padded with
  1e10 columns when there are more candidates than persons; a matched pair joins only when the
  raw distance is below ``tag_threshold``.

Assignment: ``scipy.optimize.linear_sum_assignment`` by default (the official code uses
``munkres``).  Both return a minimum-cost assignment; they can differ only when several
assignments cost exactly the same (ties), which the rounding makes possible whenever a candidate
has the same rounded distance to several persons (SPEC.md "Ties").  On a trained model's maps
such ties are common among the low-scoring people, so ``assignment="munkres"`` calls the
``munkres`` package on the very matrix the official code hands it, for poses identical to the
official code's (same munkres version) where ties occur; it costs about as much (tens of
microseconds a joint at these sizes).
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..errors import MissingDependencyError
from .nms import Candidates, threshold_f32

__all__ = ["group_candidates", "person_scores"]

PAD_COST = 1e10


class _People:
    """Open persons in opening order: joint rows, tag lists and cached mean tags."""

    def __init__(self, num_joints: int, t_dim: int):
        self.k, self.t = num_joints, t_dim
        self.rows: List[np.ndarray] = []  # float32 [K, 3 + T] each
        self.tags: List[np.ndarray] = []  # float32 [K, T] each; first n_tags[i] rows used
        self.n_tags: List[int] = []
        self.means: List = []  # float32 [T] or None when stale
        self.by_key: Dict[float, int] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def open(self, key: float, joint: int, entry: np.ndarray, tag: np.ndarray) -> None:
        """Start a person keyed by ``key`` - or, as officially, reset the one with that key."""
        i = self.by_key.get(key)
        if i is None:
            i = self.by_key[key] = len(self.rows)
            self.rows.append(np.zeros((self.k, 3 + self.t), np.float32))
            self.tags.append(np.zeros((self.k, self.t), np.float32))
            self.n_tags.append(0)
            self.means.append(None)
        self.rows[i][joint] = entry
        self.tags[i][0] = tag
        self.n_tags[i] = 1
        self.means[i] = None

    def join(self, i: int, joint: int, entry: np.ndarray, tag: np.ndarray) -> None:
        self.rows[i][joint] = entry
        n = self.n_tags[i]
        if n == self.tags[i].shape[0]:  # only reachable through key merges; grow
            self.tags[i] = np.concatenate([self.tags[i], np.zeros_like(self.tags[i])])
        self.tags[i][n] = tag
        self.n_tags[i] = n + 1
        self.means[i] = None

    def mean_tags(self, count: int) -> np.ndarray:
        """float32 [count, T]: mean tag of the first ``count`` persons.

        ``np.add.reduce`` over the stacked tags divided by the count is bit-identical to the
        official ``np.mean(list_of_tags, axis=0)`` (same float32 reduction, one correctly
        rounded division).
        """
        out = np.empty((count, self.t), np.float32)
        for i in range(count):
            m = self.means[i]
            if m is None:
                n = self.n_tags[i]
                m = self.means[i] = np.add.reduce(self.tags[i][:n], axis=0) / np.float32(n)
            out[i] = m
        return out


def group_candidates(
    cand: Candidates,
    joint_order: Sequence[int],
    *,
    detection_threshold: float,
    tag_threshold: float,
    max_num_people: int,
    use_detection_val: bool = True,
    assignment: str = "scipy",
) -> np.ndarray:
    """Group candidates into persons.

    Args:
        cand: candidates of every joint (see :func:`~swahr_infer.decode.nms.find_candidates`).
        joint_order: the order joints are processed in (a permutation of range(K)).
        detection_threshold: candidates must be strictly above it (compared in float64).
        tag_threshold: a matched candidate joins when its tag distance is below this.
        max_num_people: only this many persons (in opening order) are matched against.
        use_detection_val: cost = round(distance) * 100 - value (official default) instead of
            the raw distance.
        assignment: "scipy" or "munkres" (see the module docstring).

    Returns:
        float32 [N, K, 3 + T] persons in opening order: (x, y, value, tag...) per joint, in
        integer heatmap pixels; all zero where a person has no joint.
    """
    num_joints, _, t_dim = cand.tags.shape
    t32 = threshold_f32(detection_threshold)
    solve = _solver(assignment)
    people = _People(num_joints, t_dim)
    for j in joint_order:
        xy, vals, tags = cand.joint(j)
        keep = vals > t32
        xy, vals, tags = xy[keep], vals[keep], tags[keep]
        n = len(vals)
        if n == 0:
            continue
        entries = np.concatenate([xy.astype(np.float32), vals[:, None], tags], axis=1)
        if len(people) == 0:
            for r in range(n):
                people.open(float(tags[r, 0]), j, entries[r], tags[r])
            continue
        m = min(len(people), max_num_people)
        means = people.mean_tags(m)
        # float64 like the official code: candidate tags (f64) minus mean tags (f32)
        dist = np.linalg.norm(tags.astype(np.float64)[:, None, :] - means[None, :, :], ord=2, axis=2)
        cost = np.round(dist) * 100 - vals.astype(np.float64)[:, None] if use_detection_val else dist
        if n > m:
            cost = np.concatenate([cost, np.full((n, n - m), PAD_COST)], axis=1)
        rows, cols = solve(cost)
        for r, c in zip(rows.tolist(), cols.tolist()):
            if c < m and dist[r, c] < tag_threshold:
                people.join(c, j, entries[r], tags[r])
            else:
                people.open(float(tags[r, 0]), j, entries[r], tags[r])
    if len(people) == 0:
        return np.zeros((0, num_joints, 3 + t_dim), np.float32)
    return np.stack(people.rows)


def _solver(assignment: str):
    """cost float64 [n, m'] -> (rows, cols) of a minimum-cost assignment, rows ascending."""
    if assignment == "scipy":
        return linear_sum_assignment
    if assignment != "munkres":
        raise ValueError(f"unknown assignment {assignment!r}: scipy or munkres")
    try:
        from munkres import Munkres
    except ImportError:
        raise MissingDependencyError("munkres", "bench", "the munkres assignment",
                                     install="pip install munkres") from None
    solver = Munkres()

    def solve(cost: np.ndarray):
        # the official py_max_match: Munkres().compute on the (padded) float64 array itself
        pairs = np.array(solver.compute(cost), np.int64).reshape(-1, 2)
        return pairs[:, 0], pairs[:, 1]

    return solve


def person_scores(persons: np.ndarray) -> np.ndarray:
    """float32 [N]: mean joint value over all K joints (0 for missing), the official score.

    Computed per person with ``ndarray.mean`` on the same float32 column layout as the
    official code, so the float32 rounding is identical.  Take it before refine.
    """
    return np.array([p[:, 2].mean() for p in persons], np.float32).reshape(-1)
