"""Tile summaries and the branch-and-bound argmax against brute force."""

import numpy as np
import pytest

from swahr_infer.decode.group import _People
from swahr_infer.decode.refine import TagArgmax, _sum_squares
from swahr_infer.decode.tiles import MapTiles, tile_reduce


@pytest.mark.parametrize("shape", [(64, 96), (70, 101), (5, 7), (16, 16), (17, 33)])
@pytest.mark.parametrize("extra", [(), (1,), (2,), (3,)])
def test_tile_reduce_matches_brute_force(shape, extra):
    rng = np.random.default_rng(len(shape) + shape[0] + len(extra))
    a = rng.normal(size=shape + extra).astype(np.float32)
    for tile in (4, 16, 32):
        th, tw = -(-shape[0] // tile), -(-shape[1] // tile)
        for op in (np.maximum, np.minimum):
            got = tile_reduce(a, tile, op)
            want = np.array([[op.reduce(a[i * tile:(i + 1) * tile, j * tile:(j + 1) * tile]
                                        .reshape((-1,) + extra), axis=0)
                              for j in range(tw)] for i in range(th)])
            np.testing.assert_array_equal(got, want.reshape(got.shape))


def test_tile_pixels_cover_each_tile_exactly():
    tiles = MapTiles(np.zeros((1, 37, 50), np.float32), np.zeros((1, 37, 50, 1), np.float32), 16)
    seen = np.unique(tiles.tile_pixels(np.arange(tiles.grid[0] * tiles.grid[1])))
    np.testing.assert_array_equal(seen, np.arange(37 * 50))


def brute(hm, tags, mean):
    dist = ((tags - mean[None, None, :]) ** 2).sum(axis=2) ** 0.5
    score = hm - np.round(dist)
    i = int(np.argmax(score))
    return divmod(i, hm.shape[1]) + (score.flat[i],)


@pytest.mark.parametrize("seed", range(12))
def test_tag_argmax_equals_numpy_argmax(seed):
    """Quantised values make equal objectives (ties) and half-integer distances common."""
    rng = np.random.default_rng(seed)
    h, w, t_dim = int(rng.integers(8, 70)), int(rng.integers(8, 90)), int(rng.choice([1, 2, 3]))
    hm = (np.round(rng.uniform(-0.2, 1, (2, h, w)) * 4) / 4).astype(np.float32)
    tags = (np.round(rng.normal(0, 1.5, (2, h, w, t_dim)) * 4) / 4).astype(np.float32)
    tiles = MapTiles(hm, tags, int(rng.choice([4, 8, 16])))
    search = TagArgmax(tiles)
    means = (np.round(rng.normal(0, 1.5, (9, t_dim)) * 8) / 8).astype(np.float32)
    for j in range(2):
        ys, xs, vs = search(j, means)
        for q, mean in enumerate(means):
            assert (ys[q], xs[q], vs[q]) == brute(hm[j], tags[j], mean)


def test_tag_argmax_bound_stays_below_float32_distances():
    """A tile whose tags sit just under a rounding edge (distance 0.4999) holds the answer."""
    hm = np.full((1, 96, 96), 0.5, np.float32)
    tags = np.zeros((1, 96, 96, 2), np.float32)
    tags[0, 48:64, 32:48] = np.float32(0.35348)  # distance sqrt(2) * 0.35348 = 0.49990 from 0
    hm[0, 50, 40] = 0.9
    mean = np.zeros((1, 2), np.float32)
    ys, xs, vs = TagArgmax(MapTiles(hm, tags, 16))(0, mean)
    assert (ys[0], xs[0], vs[0]) == brute(hm[0], tags[0], mean[0]) == (50, 40, np.float32(0.9))


def test_sum_squares_rounds_like_the_official_expression():
    rng = np.random.default_rng(0)
    for t_dim in (1, 2, 3, 9):
        d = rng.normal(size=(500, 7, t_dim)).astype(np.float32)
        want = (d ** 2).sum(axis=2)
        np.testing.assert_array_equal(_sum_squares([d[..., t] for t in range(t_dim)]), want)


def test_person_mean_tags_are_bit_identical_to_np_mean():
    """The grouping caches np.add.reduce / n; the official code calls np.mean on a list."""
    rng = np.random.default_rng(1)
    for t_dim in (1, 2):
        people = _People(17, t_dim)
        tags = rng.normal(0, 10, (17, t_dim)).astype(np.float32)
        people.open(float(tags[0, 0]), 0, np.zeros(3 + t_dim, np.float32), tags[0])
        for n in range(1, 17):
            people.join(0, n, np.zeros(3 + t_dim, np.float32), tags[n])
            want = np.mean(list(tags[:n + 1]), axis=0)
            np.testing.assert_array_equal(people.mean_tags(1)[0], want)
