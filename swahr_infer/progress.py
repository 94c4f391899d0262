"""Progress of long loops (predict over a folder or video, eval over a dataset).

On a terminal a tqdm bar.  Elsewhere (output redirected to a log file, nohup, a batch job) a
bar's carriage returns make an unreadable log and tqdm draws nothing at all, so a run over ten
thousand images would say nothing until its end: there a plain status line is printed about
every 5 % of the items instead, with the rate and the time left.  Short runs (fewer than
:data:`MIN_ITEMS` items, or an unknown count) print no status lines: the summary at the end
says all.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Iterable, Iterator, Optional, TypeVar

T = TypeVar("T")

MIN_ITEMS = 20  # fewer items: no status lines (the run's own summary line is enough)
LINES = 20  # status lines over a whole run: one every 5 %


def track(items: Iterable[T], *, desc: str, unit: str, total: Optional[int] = None,
          enabled: Optional[bool] = None) -> Iterable[T]:
    """``items``, reporting progress on stderr as it is consumed.

    ``enabled``: None (default) draws a bar when stderr is a terminal and status lines
    otherwise; True always a bar; False nothing (``--no-progress``).  Messages printed while it
    runs should go through ``tqdm.write`` so that they land above a bar, not through it.
    """
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    if enabled is False:
        return items
    if enabled or _is_terminal(sys.stderr):
        from tqdm import tqdm

        return tqdm(items, total=total, desc=desc, unit=unit)
    if not total or total < MIN_ITEMS:
        return items
    return _status_lines(items, total, desc, unit)


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _status_lines(items: Iterable[T], total: int, desc: str, unit: str) -> Iterator[T]:
    """``desc: 250/1000 img (25 %), 3.1 img/s, 4 min left`` after each ~5 % of ``items``."""
    every = max(1, math.ceil(total / LINES))
    start = time.perf_counter()
    done = 0
    for item in items:
        yield item  # the caller works on it; it is done when the next one is asked for
        done += 1
        if done % every == 0 or done == total:
            elapsed = time.perf_counter() - start
            rate = done / elapsed if elapsed > 0 else float("inf")
            left = max(total - done, 0) / rate if math.isfinite(rate) and rate > 0 else 0.0
            print(f"{desc}: {done}/{total} {unit} ({100 * done // total} %), {rate:.3g} {unit}/s"
                  + (f", {format_duration(left)} left" if done < total else ""),
                  file=sys.stderr, flush=True)


def format_duration(seconds: float) -> str:
    """``42 s``, ``17 min`` or ``2.3 h``: the time left in status lines (also the trainer's)."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
