"""The `ichbench` command line: one small function per subcommand."""

from __future__ import annotations

import argparse
import sys

from ichbench import __version__
from ichbench.errors import IchbenchError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="ichbench", description="Benchmark harness for intracranial-hemorrhage segmentation on head CT."
    )
    parser.add_argument("--version", action="version", version=f"ichbench {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except IchbenchError as exc:
        print(f"ichbench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
