"""Decoder inputs for the GPU tests: random, tied and synthetic fused maps (numpy, float32)."""

from __future__ import annotations

from typing import Tuple

import numpy as np

from swahr_infer.synthetic import random_people, render_maps


def noise_maps(k: int, h: int, w: int, t: int = 2, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Uniform noise: thousands of peaks per joint, top-k truncation everywhere."""
    rng = np.random.default_rng(seed)
    return (rng.random((k, h, w), dtype=np.float32),
            rng.normal(0, 2, (k, h, w, t)).astype(np.float32))


def tied_maps(k: int, h: int, w: int, t: int = 2, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Values on a coarse grid (1/8 steps): plateaus, equal peaks, equal objective values.

    Plateaus make every pixel of a flat top a candidate (more than k in one tile), equal peak
    values exercise the flat-index tie rule, and integer-ish tags make refine's objective tie.
    """
    rng = np.random.default_rng(seed)
    hm = (np.floor(rng.random((k, h, w)) * 8) / 8).astype(np.float32)
    hm[:, : h // 3, : w // 3] = 0.875  # one big plateau per joint, touching two borders
    tags = np.round(rng.normal(0, 2, (k, h, w, t))).astype(np.float32)
    return hm, tags


def border_maps(k: int, h: int, w: int, t: int = 2) -> Tuple[np.ndarray, np.ndarray]:
    """Peaks on the corners and edges only (the -inf padding rule), one interior peak."""
    hm = np.zeros((k, h, w), np.float32)
    for j in range(k):
        hm[j, 0, 0] = 0.9 - 0.01 * j
        hm[j, h - 1, w - 1] = 0.8
        hm[j, 0, w - 1] = 0.7
        hm[j, h - 1, 0] = 0.7  # ties with the previous one: flat index decides
        hm[j, h // 2, 0] = 0.6
        hm[j, h // 2, w // 2] = 0.5
        hm[j, 1, 1] = 0.3  # inside the window of (0, 0): suppressed
    rng = np.random.default_rng(1)
    return hm, rng.normal(0, 1, (k, h, w, t)).astype(np.float32)


def people_maps(n: int, h: int, w: int, k: int = 17, t: int = 2, seed: int = 0,
                noise: float = 0.0) -> Tuple[np.ndarray, np.ndarray]:
    """Synthetic people (:mod:`swahr_infer.synthetic`): real peaks, tags >= 3 apart."""
    kps = random_people(n, (h, w), k, seed=seed)
    return render_maps(kps, (h, w), num_tag_dims=t, noise=noise, seed=seed)


def objective(hm: np.ndarray, tags: np.ndarray, joint: int, mean: np.ndarray) -> np.ndarray:
    """float32 [H * W]: refine's official objective for one joint and mean tag, brute force."""
    diff = tags[joint] - mean.astype(np.float32)                 # [H, W, T]
    sq = diff ** 2
    total = sq[..., 0]
    for c in range(1, sq.shape[-1]):  # left to right, as the official reduction
        total = total + sq[..., c]
    return (hm[joint] - np.round(np.sqrt(total))).reshape(-1)
