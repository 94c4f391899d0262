"""Argument types shared by the subcommands (argparse ``type=`` callables)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Callable, Optional, Tuple

from ..errors import OptionError


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


def check_output_file(path: Optional[Path], option: str) -> None:
    """Fail before a long run rather than after it, with its results lost: ``path`` (an output
    file; None: none) must not be a folder, and its folder must exist or be possible to make."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise OptionError(f"{option} {path}: is a folder; name the results file, e.g. "
                          f"{path / 'results.json'}")
    check_folder_can_exist(path.parent, option, path)


def check_folder_can_exist(folder: Path, option: str, given: Path) -> None:
    """``folder`` exists, or its nearest existing ancestor is a folder it can be made in; either
    way one this process may write into (nothing is created here)."""
    ancestor = folder
    while not ancestor.exists() and ancestor.parent != ancestor:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OptionError(f"{option} {given}: {ancestor} is a file, so the folder {folder} "
                          "cannot be created")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OptionError(f"{option} {given}: cannot write into {ancestor} (no permission)")


def add_assignment(parser: argparse.ArgumentParser) -> None:
    """``--assignment``: the matching solver of the decoder (scipy by default, or munkres)."""
    parser.add_argument("--assignment", choices=("scipy", "munkres"), default=None,
                        help="matching solver: scipy (default) or munkres, which gives the "
                             "official code's poses even where the matching has cost ties "
                             "(pip install munkres)")
