"""Type tests for the numbers users pass as options, shared so every module takes the same ones.

A plain ``isinstance(value, int)`` is wrong both ways: ``True`` is an int in Python, and numpy's
scalars (``np.int64(3)``, ``np.float32(0.5)``, what a value read from an array is) are not ints
or floats. These follow the ``numbers`` tower, where numpy registers its scalar types and
``numpy.bool_`` is not a number.
"""
import math
import numbers


def is_int(value) -> bool:
    """A whole number, Python's or numpy's, not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value) -> bool:
    """A real number (int, float, numpy scalar), not a bool or a string; NaN and inf included."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_finite_number(value) -> bool:
    """A real number that is neither NaN nor infinite."""
    return is_number(value) and math.isfinite(value)
