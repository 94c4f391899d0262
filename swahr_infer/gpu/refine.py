"""Refine on the device: every (person, missing joint) whole-map argmax in one launch.

Numpy reference: :func:`swahr_infer.decode.refine_people` (and its exact search
:class:`swahr_infer.decode.refine.TagArgmax`): for each person, each missing joint ``j`` is
looked up at ``argmax(hm[j] - round(||tags[j] - mean tag||))`` (first flat index among equal
maxima) and filled when the heatmap value there is positive, at ``x + 0.5 + dx``,
``y + 0.5 + dy``.  Kernels: ``kernels/refine.cu`` (the argmax, then a small launch that reads
the value and the adjust shifts at each answer).

The persons' mean tags are computed on the host from the tag columns of their rows: each found
joint's row holds the tag read at its integer position, which is where the CPU function reads
the tag map (``int(x + 0.5 +- 0.25) == x``), so the means are the same float32 values.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from .device import blocks, import_cupy, kernel

CHUNK = 256 * 16  # pixels per block (kernels/refine.cu CHUNK)


def tag_argmax_device(heatmaps, tags, joints: np.ndarray, means: np.ndarray):
    """Queue the refine argmax for Q queries on the current CuPy stream.

    Args:
        heatmaps: CuPy float32 [K, H, W]; tags: CuPy float32 [K, H, W, T] (C-contiguous).
        joints: int [Q] joint of each query; means: float32 [Q, T] its person's mean tag.

    Returns:
        CuPy float32 [Q, 6]: x, y (first maximum), heatmap value there, dx, dy (adjust shifts
        there) and the objective's maximum.
    """
    cp = import_cupy()
    _, h, w = heatmaps.shape
    t_dim = tags.shape[3]
    q = len(joints)
    out = cp.empty((q, 6), np.float32)
    if q == 0:
        return out
    joint_d = cp.asarray(np.ascontiguousarray(joints, np.int32))
    mean_d = cp.asarray(np.ascontiguousarray(means, np.float32).reshape(q, t_dim))
    best = cp.zeros(q, np.uint64)
    kernel("refine", "tag_argmax")((blocks(h * w, CHUNK), q), (256,), (
        heatmaps, tags, np.int32(h), np.int32(w), np.int32(t_dim), joint_d, mean_d, best))
    kernel("refine", "tag_argmax_finish")((blocks(q, 128),), (128,), (
        best, joint_d, np.int32(q), heatmaps, np.int32(h), np.int32(w), out))
    return out


def person_means(persons: np.ndarray) -> np.ndarray:
    """float32 [N, T]: each person's mean tag over its found joints (0 for a person with none).

    The same float32 ``np.mean`` over the same values as :func:`swahr_infer.decode.refine_people`
    (see the module docstring).
    """
    t_dim = persons.shape[2] - 3
    means = np.zeros((len(persons), t_dim), np.float32)
    for i, person in enumerate(persons):
        found = np.flatnonzero(person[:, 2] > 0)
        if found.size:
            means[i] = np.mean(person[found, 3:], axis=0)
    return means


def refine_queries(persons: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(person index [Q], joint [Q], mean tag [Q, T]) of every missing joint to look up."""
    found = persons[:, :, 2] > 0
    missing = (persons[:, :, 2] == 0) & found.any(axis=1, keepdims=True)
    who, joint = np.nonzero(missing)
    return who, joint, person_means(persons)[who]


def fill_refined(persons: np.ndarray, who: np.ndarray, joint: np.ndarray,
                 answers: np.ndarray) -> np.ndarray:
    """A copy of ``persons`` with each query's joint filled where the heatmap value is positive.

    Args:
        persons: float32 [N, K, 3 + T] after adjust.
        who, joint: [Q] the queries; answers: float32 [Q, 6] from :func:`tag_argmax_device`.
    """
    out = persons.copy()
    value = answers[:, 2]
    fill = value > 0
    who, joint, a = who[fill], joint[fill], answers[fill]
    half = np.float32(0.5)
    out[who, joint, 0] = (a[:, 0] + half) + a[:, 3]
    out[who, joint, 1] = (a[:, 1] + half) + a[:, 4]
    out[who, joint, 2] = a[:, 2]
    return out


def refine_people_device(persons: np.ndarray, heatmaps, tags) -> np.ndarray:
    """:func:`swahr_infer.decode.refine_people` with the argmax on the device (synchronises).

    Args:
        persons: float32 [N, K, 3 + T] after adjust (host).
        heatmaps, tags: the fused maps on the device.
    """
    if len(persons) == 0:
        return persons.copy()
    who, joint, means = refine_queries(persons)
    if who.size == 0:
        return persons.copy()
    answers = tag_argmax_device(heatmaps, tags, joint, means).get()
    return fill_refined(persons, who, joint, answers)
