"""Argument types shared by the subcommands (argparse ``type=`` callables)."""

from __future__ import annotations

import argparse
from typing import Callable, Tuple


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An integer >= ``minimum`` (e.g. ``int_at_least(1)`` for counts)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text}")
        return value

    return parse


def dims(layout: str, *, multiple: int = 1, minimum: int = 1) -> Callable[[str], Tuple[int, ...]]:
    """Sizes written like ``layout`` ("HxW", "WxH", "NxCxHxW"): a tuple in that order.

    Every value must be >= ``minimum`` and a multiple of ``multiple``.
    """
    count = len(layout.split("x"))

    def parse(text: str) -> Tuple[int, ...]:
        try:
            values = tuple(int(v) for v in text.lower().split("x"))
        except ValueError:
            values = ()
        if len(values) != count:
            raise argparse.ArgumentTypeError(f"expected {layout}, got {text!r}")
        if any(v < minimum or v % multiple for v in values):
            rule = f"at least {minimum}" + (f" and multiples of {multiple}" if multiple > 1 else "")
            raise argparse.ArgumentTypeError(f"{layout} values must be {rule}, got {text!r}")
        return values

    return parse


def add_assignment(parser: argparse.ArgumentParser) -> None:
    """``--assignment``: the matching solver of the decoder (scipy by default, or munkres)."""
    parser.add_argument("--assignment", choices=("scipy", "munkres"), default=None,
                        help="matching solver: scipy (default) or munkres, which gives the "
                             "official code's poses even where the matching has cost ties "
                             "(pip install munkres)")
