"""swahr_infer.progress: a bar on a terminal, status lines in a log, nothing with --no-progress,
and the items always handed on whole and in order."""

import io
import sys

import pytest

from swahr_infer.progress import MIN_ITEMS, track


class Terminal(io.StringIO):
    def isatty(self):
        return True


def consume(items, monkeypatch, stream, **options):
    monkeypatch.setattr(sys, "stderr", stream)
    seen = list(track(items, desc="predict", unit="img", **options))
    return seen, stream.getvalue()


def test_a_log_gets_a_status_line_every_5_percent(monkeypatch):
    seen, text = consume(list(range(100)), monkeypatch, io.StringIO())
    assert seen == list(range(100))
    lines = text.splitlines()
    assert len(lines) == 20 and "\r" not in text  # no bar redraws in the log
    assert lines[0].startswith("predict: 5/100 img (5 %), ") and " img/s, " in lines[0]
    assert lines[0].endswith(" s left")
    assert lines[-1].startswith("predict: 100/100 img (100 %), ") and "left" not in lines[-1]


def test_uneven_counts_still_end_on_the_last_item(monkeypatch):
    seen, text = consume(iter(range(41)), monkeypatch, io.StringIO(), total=41)
    assert seen == list(range(41))
    done = [line.split()[1] for line in text.splitlines()]
    assert done[0] == "3/41" and done[-1] == "41/41" and len(done) == 14  # every 3, then the end


@pytest.mark.parametrize("items, expected", [
    (list(range(MIN_ITEMS - 1)), list(range(MIN_ITEMS - 1))),  # short
    (iter(range(50)), list(range(50))),  # count unknown
])
def test_short_or_uncounted_runs_print_no_status_lines(monkeypatch, items, expected):
    seen, text = consume(items, monkeypatch, io.StringIO())
    assert seen == expected and text == ""


def test_a_terminal_gets_the_bar_and_no_progress_gets_nothing(monkeypatch):
    seen, text = consume(list(range(30)), monkeypatch, Terminal())
    assert seen == list(range(30)) and "30/30" in text and "%|" in text  # tqdm's bar
    seen, text = consume(list(range(30)), monkeypatch, Terminal(), enabled=False)
    assert seen == list(range(30)) and text == ""
    seen, text = consume(list(range(30)), monkeypatch, io.StringIO(), enabled=False)
    assert text == ""
