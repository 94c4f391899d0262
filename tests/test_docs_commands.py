"""The ``swahr-infer`` command lines in the docs' code blocks are ones the command line takes:
each parses with the real parser (subcommand, options, their values), so a renamed or removed
option cannot stay documented.  Prose mentions (inline code) are left alone: they may be
partial on purpose."""

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from swahr_infer.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "benchmarks").glob("*.md"))]


def documented_commands():
    """(file name, command line) of every swahr-infer command in a fenced code block; lines
    continued with a backslash are joined, comments and environment settings in front dropped,
    and commands chained with && ; or a spaced | taken apart.  Synopsis lines (``[--out DIR]``, ``coco|crowdpose``) are read with
    every optional part given and the first of each set of alternatives."""
    found = []
    for path in DOCS:
        for block in re.findall(r"```[a-z]*\n(.*?)```", path.read_text(), re.S):
            for line in re.sub(r"\\\n\s*", " ", block).splitlines():
                line = re.split(r"\s#", line)[0]
                for part in re.split(r"&&|\|\||;| \| ", line):
                    part = re.sub(r"(\S+?)\|\S+", r"\1", part.replace("[", "").replace("]", ""))
                    part = re.sub(r"^(\w+=\S*\s+)+", "", part.strip())  # OMP_...=x before it
                    if part.startswith("swahr-infer "):
                        found.append((path.name, part))
    return found


COMMANDS = documented_commands()
# synopsis placeholders that stand for numbers (the others, M, DIR, FILE, stand for paths)
NUMBERS = {"N": "512", "T": "0.3"}


def test_the_docs_show_commands_of_every_kind():
    kinds = {shlex.split(command)[1] for _, command in COMMANDS}
    assert {"predict", "export", "build", "eval", "bench", "train"} <= kinds, kinds


@pytest.mark.parametrize("where, command", COMMANDS, ids=[f"{w}:{c[:60]}" for w, c in COMMANDS])
def test_documented_command_parses(where, command):
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args([NUMBERS.get(t, t) for t in shlex.split(command)[1:]])
    except SystemExit as exit:
        assert not exit.code, f"{where}: {command}\n{err.getvalue()}"
