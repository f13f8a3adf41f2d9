"""The `ichbench` command line: one small function per subcommand, grouped by topic."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings

from ichbench import __version__
from ichbench.cli import bench, board, data, deploy, report, slices
from ichbench.errors import IchbenchError, Incomplete

TOPICS = [bench, board, slices, data, deploy, report]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="ichbench", description="Benchmark harness for intracranial-hemorrhage segmentation on head CT."
    )
    parser.add_argument("--version", action="version", version=f"ichbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for topic in TOPICS:
        topic.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script: user errors print one line and exit 2, no traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    warnings.formatwarning = lambda msg, cat, *a, **k: f"ichbench: warning: {msg}\n"
    logging.raiseExceptions = False  # a log line that cannot be written (disk full) must not print a traceback
    try:
        return int(args.func(args) or 0)
    except Incomplete as exc:  # a clean stop, not a failure: its own exit code, for job scripts
        print(f"ichbench: {exc}", file=sys.stderr)
        return exc.exit_code
    except IchbenchError as exc:
        print(f"ichbench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # an environment failure outside ichbench's own writes: one line, no traceback
        print(f"ichbench: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ichbench: interrupted", file=sys.stderr)
        return 130
