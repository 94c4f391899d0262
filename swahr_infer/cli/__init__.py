"""``swahr-infer`` command line: one module per subcommand.

Each subcommand module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``.  Every subcommand module is imported to build the parser, but each
imports its heavy packages (torch, onnx, tensorrt, ray) inside ``run``; a subcommand whose
module cannot be imported (a missing optional package) still appears in the listing, and
running it prints why instead of breaking the whole CLI.
"""

from __future__ import annotations

import argparse
import logging
import sys
from importlib import import_module
from typing import List, Optional

from ..errors import SwahrError

# name -> module (relative to this package); order is the order of --help
COMMANDS = {
    "predict": ".predict",
    "export": ".export",
    "build": ".build",
    "eval": ".evaluate",
    "bench": ".bench",
    "trtexec": ".trtexec",
    "train": ".train",
}


def _load(name: str):
    try:
        return import_module(COMMANDS[name], __name__), None
    except ImportError as exc:  # an optional dependency of that command is missing
        return None, exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="swahr-infer",
        description="SWAHR / HigherHRNet multi-person pose estimation: export, build, run, evaluate.",
    )
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="log details and show tracebacks on errors")
    # the same flag after the subcommand (`swahr-infer bench ... -v`); SUPPRESS leaves it out of
    # the namespace unless given there, so it cannot reset a -v given before the subcommand
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS,
                         help="log details and show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module, error = _load(name)
        if module is None:
            if isinstance(error, ModuleNotFoundError) and error.name and error.name.startswith(
                    __name__):
                continue  # not written yet
            p = sub.add_parser(name, help=f"(unavailable: {error})", parents=[verbose])
            p.set_defaults(_unavailable=error)
            continue
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter,
                           parents=[verbose])
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if getattr(args, "_unavailable", None) is not None:
        print(f"swahr-infer {args.command}: unavailable: {args._unavailable}", file=sys.stderr)
        return 2
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (SwahrError, OSError) as exc:
        if args.verbose:
            raise
        print(f"swahr-infer {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
