"""The shared option type tests: numpy scalars are numbers, bools and strings are not."""
import fractions

import numpy as np
import pytest

from swahr_infer.checks import is_finite_number, is_int, is_number


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3), -1])
def test_whole_numbers(value):
    assert is_int(value) and is_number(value) and is_finite_number(value)


@pytest.mark.parametrize("value", [True, np.bool_(True), "3", 3.0, np.float32(3), None, [3]])
def test_not_whole_numbers(value):
    assert not is_int(value)


@pytest.mark.parametrize("value", [0.5, np.float32(0.5), np.float16(2), fractions.Fraction(1, 3)])
def test_real_numbers(value):
    assert is_number(value) and is_finite_number(value) and not is_int(value)


@pytest.mark.parametrize("value", [float("nan"), np.float32("inf"), -np.inf])
def test_non_finite_numbers(value):
    assert is_number(value) and not is_finite_number(value)


@pytest.mark.parametrize("value", [False, np.bool_(False), "0.5", b"1", 1j, None])
def test_not_numbers(value):
    assert not is_number(value) and not is_finite_number(value)
