"""Argument types shared by the subcommands (argparse ``type=`` callables)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Callable, Optional, Sequence, Tuple

from ..errors import OptionError

#: H and W of a network input are multiples of this (the exported graphs' size divisor); the
#: rule of `build --min/--opt/--max` and of `trtexec --min/--opt/--max`
SIZE_MULTIPLE = 32


def _named(parse: Callable, name: str) -> Callable:
    """argparse reports a ValueError / TypeError raised by a ``type=`` callable as "invalid
    <its __name__> value"; the inner functions are all called ``parse``, which says nothing."""
    parse.__name__ = name
    return parse


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

    return _named(parse, "integer")


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

    return _named(parse, layout)


def profile_shape(text: str) -> Tuple[int, int, int, int]:
    """An NxCxHxW shape of a TensorRT optimisation profile: C is 3 (RGB, what every exported
    model takes) and H, W are multiples of :data:`SIZE_MULTIPLE`, as `build` requires of its
    HxW sizes, so that a command line which cannot work is refused instead of printed."""
    n, c, h, w = dims("NxCxHxW")(text)
    if c != 3:
        raise argparse.ArgumentTypeError(f"C must be 3 (the models take RGB images), got {text!r}")
    if h % SIZE_MULTIPLE or w % SIZE_MULTIPLE:
        raise argparse.ArgumentTypeError(f"H and W must be multiples of {SIZE_MULTIPLE}, got "
                                         f"{text!r}")
    return n, c, h, w


profile_shape.__name__ = "NxCxHxW"


def check_profile(shapes, options: Sequence[str] = ("--min", "--opt", "--max")) -> None:
    """(min, opt, max) NCHW shapes must be ordered in every dimension, as TensorRT requires of
    an optimisation profile (it would fail only after parsing the model, or not be asked)."""
    (mn, opt, mx), (o_min, o_opt, o_max) = shapes, options
    text = lambda shape: "x".join(str(v) for v in shape)  # noqa: E731
    if any(a > b for a, b in zip(mn, mx)):
        raise OptionError(f"{o_max} {text(mx)} is smaller than {o_min} {text(mn)} in some "
                          "dimension: the largest shape must be at least the smallest")
    if any(not a <= v <= b for a, v, b in zip(mn, opt, mx)):
        raise OptionError(f"{o_opt} {text(opt)} lies outside {o_min} {text(mn)} .. {o_max} "
                          f"{text(mx)}: every dimension must be between min and max")


def check_output_file(path: Optional[Path], option: str) -> None:
    """Fail before a long run rather than after it, with its results lost: ``path`` (an output
    file; None: none) must not be a folder, and its folder must exist or be possible to make."""
    if path is None:
        return
    if str(path) in ("", "."):  # argparse's Path("") is "."
        raise OptionError(f"{option}: no file name given (an empty path or '.')")
    path = Path(path)
    if path.is_dir():
        # the example keeps the suffix given (a folder named d.parquet -> d.parquet/results.parquet)
        raise OptionError(f"{option} {path}: is a folder; name the results file, e.g. "
                          f"{path / ('results' + (path.suffix or '.json'))}")
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
