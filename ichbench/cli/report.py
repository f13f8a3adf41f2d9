"""`ichbench report`."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the report subcommand."""
    report = sub.add_parser("report", help="HTML and Markdown report of finished runs (CIs, tests, plots, overlays)")
    report.add_argument("runs", type=Path, nargs="+", help="run directories (one data set and protocol)")
    report.add_argument("--out", type=Path, required=True)
    report.add_argument("--dpi", type=int, default=90, help="figure resolution (lower for small committed reports)")
    report.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report."""
    from ichbench.report.render import build_report

    path = build_report(args.runs, args.out, args.dpi)
    print(f"wrote {path} and {path.with_suffix('.md')}")
    return 0
