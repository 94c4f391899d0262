"""The host halves of the GPU pipeline, without a GPU: warp references, candidate rows,
adjust from shifts, refine queries and fills, and the lazy imports."""

import subprocess
import sys

import cv2
import numpy as np
import pytest

from swahr_infer.decode import (DecodeParams, adjust_joints, find_candidates, group_candidates,
                                grouping_order, refine_people)
from swahr_infer.decode.refine import _shifts
from swahr_infer.gpu.nms import adjust_with_shifts, unpack
from swahr_infer.gpu.preprocess import MODES, warp_mode, warp_reference
from swahr_infer.gpu.refine import fill_refined, refine_queries
from swahr_infer.preprocess import plan_scales

from .maps import objective, people_maps, tied_maps


@pytest.mark.parametrize("hw", [(97, 211), (481, 333), (120, 64)])
def test_warp_reference_is_the_installed_opencv(hw):
    """The numpy model of the kernel's warp reproduces cv2.warpAffine of this machine."""
    mode = warp_mode()
    assert mode in MODES
    rng = np.random.default_rng(hw[0])
    image = rng.integers(0, 256, hw + (3,), dtype=np.uint8)
    for geometry in plan_scales(hw, 256, (2.0, 1.0, 0.5))[0]:
        expected = cv2.warpAffine(image, geometry.affine(), geometry.size)
        got = warp_reference(image, geometry.affine(), geometry.size, mode)
        diff = np.abs(got.astype(int) - expected.astype(int))
        # OpenCV 5 rounds a rare value within ~1e-5 of .5 the other way (see warp_mode)
        assert diff.max() <= 1 and np.count_nonzero(diff) <= diff.size // 10000


def test_the_two_warps_differ_and_are_named():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)
    matrix = np.array([[1.3, 0.0, -2.2], [0.0, 1.3, 1.7]])
    fixed = warp_reference(image, matrix, (64, 64), "fixed")
    floating = warp_reference(image, matrix, (64, 64), "float")
    assert np.abs(fixed.astype(int) - floating.astype(int)).max() > 1
    with pytest.raises(ValueError, match="mode"):
        warp_reference(image, matrix, (64, 64), "cubic")


def _device_rows(hm, tags, cand):
    """The rows nms_select writes, built on the host: x, y, value, dx, dy, tags."""
    k_count, k = cand.values.shape
    rows = np.zeros((k_count, k, 5 + tags.shape[3]), np.float32)
    for j in range(k_count):
        n = int(cand.counts[j])
        xs, ys = cand.xy[j, :n, 0], cand.xy[j, :n, 1]
        dx, dy = _shifts(hm, np.full(n, j), ys, xs)
        rows[j, :n] = np.concatenate([cand.xy[j, :n].astype(np.float32), cand.values[j, :n, None],
                                      dx[:, None], dy[:, None], cand.tags[j, :n]], axis=1)
    return rows


@pytest.mark.parametrize("maker", ["people", "tied"])
def test_adjust_from_candidate_shifts_equals_adjust_joints(maker):
    hm, tags = people_maps(6, 96, 128) if maker == "people" else tied_maps(17, 40, 56)
    params = DecodeParams()
    cand = find_candidates(hm, tags, threshold=params.detection_threshold)
    back, shifts = unpack(_device_rows(hm, tags, cand), cand.counts)
    for name in ("xy", "values", "tags", "counts"):
        np.testing.assert_array_equal(getattr(back, name), getattr(cand, name))
    persons = group_candidates(cand, grouping_order(17), detection_threshold=0.1,
                               tag_threshold=1.0, max_num_people=30)
    assert len(persons)
    np.testing.assert_array_equal(adjust_with_shifts(persons, back, shifts),
                                  adjust_joints(persons, hm))


@pytest.mark.parametrize("maker", ["people", "tied"])
def test_refine_queries_and_fill_equal_refine_people(maker):
    """With exact argmax answers (brute force here, the kernel on a GPU) the host side of
    device refine reproduces refine_people, ties included."""
    hm, tags = people_maps(5, 80, 112, seed=2) if maker == "people" else tied_maps(17, 36, 44)
    cand = find_candidates(hm, tags, threshold=0.1)
    persons = adjust_joints(group_candidates(cand, grouping_order(17), detection_threshold=0.1,
                                             tag_threshold=1.0, max_num_people=30), hm)
    if maker == "people":  # drop joints so that refine has work
        persons[:, 5:9, :] = 0
    who, joint, means = refine_queries(persons)
    assert who.size
    answers = np.zeros((who.size, 6), np.float32)
    for q, (j, m) in enumerate(zip(joint, means)):
        score = objective(hm, tags, j, m)
        flat = int(np.argmax(score))
        y, x = divmod(flat, hm.shape[2])
        dx, dy = _shifts(hm, np.array([j]), np.array([y]), np.array([x]))
        answers[q] = (x, y, hm[j, y, x], dx[0], dy[0], score[flat])
    np.testing.assert_array_equal(fill_refined(persons, who, joint, answers),
                                  refine_people(persons, hm, tags))


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


def test_gpu_modules_without_cupy_name_the_extra():
    run = _run("import sys; sys.modules['cupy'] = None\n"
               "from swahr_infer.errors import MissingDependencyError\n"
               "from swahr_infer.gpu.pipeline import GpuPipeline\n"
               "try:\n"
               "    GpuPipeline(None, mean=(0,0,0), std=(1,1,1), flip=True, flip_index=(0,),"
               " params=None)\n"
               "except MissingDependencyError as exc:\n"
               "    print(exc)\n")
    assert run.returncode == 0, run.stderr
    assert 'swahr-infer[gpu]' in run.stdout and "cupy-cuda13x" in run.stdout


def test_import_and_help_load_neither_torch_nor_cupy():
    run = _run("import sys\n"
               "import swahr_infer\n"
               "from swahr_infer import Estimator\n"
               "import swahr_infer.gpu, swahr_infer.backends\n"
               "from swahr_infer.cli import main\n"
               "try:\n"
               "    main(['--help'])\n"
               "except SystemExit:\n"
               "    pass\n"
               "print(sorted(m for m in ('torch', 'cupy', 'tensorrt') if m in sys.modules))\n")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "[]"
