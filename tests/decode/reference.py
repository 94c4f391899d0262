"""A slow, literal decoder written from SPEC.md "Decoding", to check the fast one against.

Every step is the obvious full-map version: a 5x5 max filter for NMS, a stable sort for the
top-k, a dict keyed by the first tag component for grouping, loops for adjust, the full
K x H x W objective for refine (computed for every joint, used for missing ones), and a loop
over joints for the affine.  No tiles, no pruning, no caching.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter
from scipy.optimize import linear_sum_assignment

ORDER = (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16)


def reference_parse(heatmaps, tags, *, detection_threshold=0.1, tag_threshold=1.0,
                    max_num_people=30, nms_kernel=5, use_detection_val=True,
                    adjust=True, refine=True, assignment="scipy"):
    """(persons float32 [N, K, 3+T], scores float32 [N]) in heatmap pixels.

    assignment: "scipy" (linear_sum_assignment) or "munkres" (Munkres().compute, pairs in
    row order), the solver of each joint's matching.
    """
    hm = np.asarray(heatmaps, np.float32)
    tg = np.asarray(tags, np.float32)
    if tg.ndim == 3:
        tg = tg[..., None]
    k, h, w = hm.shape
    t_dim = tg.shape[3]

    # 1. NMS: keep a value where it equals the max of its window (-inf outside the map)
    peak_max = maximum_filter(hm, size=(1, nms_kernel, nms_kernel), mode="constant", cval=-np.inf)
    nms = np.where(peak_max == hm, hm, np.float32(0))

    # 2. top-k per joint: value descending, then flat index ascending
    cand = []
    for j in range(k):
        flat = nms[j].ravel()
        idx = np.argsort(-flat, kind="stable")[:max_num_people]
        xs, ys = idx % w, idx // w
        cand.append((xs, ys, flat[idx], tg[j].reshape(-1, t_dim)[idx]))

    # 3. grouping
    people = {}  # key (first tag component) -> row [K, 3+T] float64
    tag_lists = {}
    for i, j in enumerate(ORDER[:k]):
        xs, ys, vals, tags_j = cand[j]
        joints = np.concatenate([np.stack([xs, ys], 1), vals[:, None], tags_j], axis=1)  # float64
        mask = joints[:, 2] > detection_threshold
        joints, tags_j = joints[mask], tags_j[mask]
        if len(joints) == 0:
            continue
        if i == 0 or len(people) == 0:
            for tag, joint in zip(tags_j, joints):
                people.setdefault(tag[0], np.zeros((k, 3 + t_dim)))[j] = joint
                tag_lists[tag[0]] = [tag]
            continue
        keys = list(people)[:max_num_people]
        means = np.array([np.mean(tag_lists[key], axis=0) for key in keys])
        dist = np.linalg.norm(joints[:, None, 3:] - means[None], ord=2, axis=2)
        cost = np.round(dist) * 100 - joints[:, 2:3] if use_detection_val else dist.copy()
        n, m = cost.shape
        if n > m:
            cost = np.concatenate([cost, np.full((n, n - m), 1e10)], axis=1)
        if assignment == "munkres":
            from munkres import Munkres

            pairs = Munkres().compute(cost)
            rows, cols = [r for r, _ in pairs], [c for _, c in pairs]
        else:
            rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols):
            if r < n and c < m and dist[r, c] < tag_threshold:
                people[keys[c]][j] = joints[r]
                tag_lists[keys[c]].append(tags_j[r])
            else:
                key = tags_j[r][0]
                people.setdefault(key, np.zeros((k, 3 + t_dim)))[j] = joints[r]
                tag_lists[key] = [tags_j[r]]
    persons = np.array([people[key] for key in people], np.float32).reshape(-1, k, 3 + t_dim)

    # 4. adjust
    if adjust:
        for p in range(len(persons)):
            for j in range(k):
                if persons[p, j, 2] > 0:
                    x, y = int(persons[p, j, 0]), int(persons[p, j, 1])
                    dx = 0.25 if hm[j, y, min(x + 1, w - 1)] > hm[j, y, max(x - 1, 0)] else -0.25
                    dy = 0.25 if hm[j, min(y + 1, h - 1), x] > hm[j, max(y - 1, 0), x] else -0.25
                    persons[p, j, 0] = x + dx + 0.5
                    persons[p, j, 1] = y + dy + 0.5

    # 5. scores before refine
    scores = np.array([persons[p, :, 2].mean() for p in range(len(persons))], np.float32)

    # 6. refine
    if refine:
        for p in range(len(persons)):
            row = persons[p]
            found = [j for j in range(k) if row[j, 2] > 0]
            mean = np.mean([tg[j, int(row[j, 1]), int(row[j, 0])] for j in found], axis=0)
            fills = []
            for j in range(k):  # every joint, as the official code; used for missing ones
                dist = ((tg[j] - mean[None, None, :]) ** 2).sum(axis=2) ** 0.5
                y, x = np.unravel_index(np.argmax(hm[j] - np.round(dist)), (h, w))
                dx = 0.25 if hm[j, y, min(x + 1, w - 1)] > hm[j, y, max(x - 1, 0)] else -0.25
                dy = 0.25 if hm[j, min(y + 1, h - 1), x] > hm[j, max(y - 1, 0), x] else -0.25
                fills.append((x + 0.5 + dx, y + 0.5 + dy, hm[j, y, x]))
            for j, (x, y, v) in enumerate(fills):
                if v > 0 and row[j, 2] == 0:
                    row[j, :3] = (x, y, v)
    return persons, scores


def reference_to_image(persons, affine):
    """float32 [N, K, 3]: each joint's (x, y) through the 2 x 3 affine, one point at a time."""
    out = np.array(persons[..., :3], np.float32)
    a = np.asarray(affine, np.float64)
    for p in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[p, j, :2] = a @ np.array([out[p, j, 0], out[p, j, 1], 1.0])
    return out
