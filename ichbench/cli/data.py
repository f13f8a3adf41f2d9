"""`ichbench data check|phantom|fetch`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `data` subcommands."""
    data = sub.add_parser("data", help="check, generate or fetch data sets").add_subparsers(
        dest="data_command", metavar="ACTION", required=True
    )
    check = data.add_parser("check", help="detect the layout, validate and summarise a data folder")
    check.add_argument("path", type=Path)
    check.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    check.add_argument("--no-cache", action="store_true", help="read the files even if a cached copy exists")
    check.add_argument("--protocol", default=None, help="show the data as this protocol sees it ([data] table)")
    check.set_defaults(func=cmd_check)

    phantom = data.add_parser("phantom", help="write the built-in synthetic head-CT data set")
    phantom.add_argument("out", type=Path)
    phantom.add_argument("--subjects", type=int, default=10)
    phantom.add_argument("--slices", type=int, default=24)
    phantom.add_argument("--size", type=int, default=640)
    phantom.add_argument("--seed", type=int, default=0)
    # Checked by write_phantom, which names the layouts (importing them here would slow every command).
    phantom.add_argument("--layout", default="jpg", help="jpg, nifti (CT-ICH releases), nnunet-3d or nnunet-2d")
    phantom.set_defaults(func=cmd_phantom)

    named = data.add_parser("list", help="the public hemorrhage data sets ichbench knows by name")
    named.add_argument("--json", action="store_true")
    named.set_defaults(func=cmd_list)

    fetch = data.add_parser("fetch", help="download a CT-ICH release from PhysioNet, verify and check it")
    fetch.add_argument("--version", dest="release", choices=("1.0.0", "1.3.1"), required=True)
    fetch.add_argument("--out", type=Path, required=True)
    fetch.add_argument("--base-url", default=None, help="mirror of physionet.org (default: physionet.org)")
    fetch.set_defaults(func=cmd_fetch)


def cmd_list(args: argparse.Namespace) -> int:
    """Print the named data sets: layout, classes, licence, where to obtain each, its protocol."""
    from dataclasses import asdict

    from ichbench.data.named import NAMED

    if args.json:
        print(json.dumps([asdict(d) for d in NAMED.values()]))
        return 0
    console = Console()
    for d in NAMED.values():
        table = Table(title=d.name, show_header=False, title_justify="left")
        for key in ("layout", "holds", "classes", "licence", "obtain", "protocol"):
            table.add_row(key, str(getattr(d, key)))
        console.print(table)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Validate a data folder and print its summary."""
    from ichbench.data.check import summarize
    from ichbench.data.load import load_dataset
    from ichbench.data.protocol_data import protocol_dataset
    from ichbench.protocol import load_protocol

    if args.protocol is None:
        dataset = load_dataset(args.path, use_cache=not args.no_cache)
    else:  # as a run under that protocol sees it: downsampled, less excluded subjects
        dataset = protocol_dataset(load_protocol(args.protocol), args.path, use_cache=not args.no_cache)
    summary = summarize(dataset)
    if args.json:
        print(json.dumps(summary))
    else:
        print_summary(summary)
    return 0


def print_summary(summary: dict) -> None:
    """A data-set summary as a rich table."""
    table = Table(title=f"{summary['name']} ({summary['layout']})", show_header=False)
    for key, value in summary.items():
        if key in ("name", "layout"):
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(value)
        table.add_row(key.replace("_", " "), str(value))
    Console().print(table)


def cmd_phantom(args: argparse.Namespace) -> int:
    """Write a phantom data set."""
    from ichbench.data.phantom.write import write_phantom

    out = write_phantom(args.out, args.subjects, args.slices, args.size, args.seed, args.layout)
    print(f"wrote phantom ({args.layout}, {args.subjects} subjects x {args.slices} slices, {args.size} px) to {out}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    """Download, verify, unpack and check a release."""
    from ichbench.data.check import summarize
    from ichbench.data.fetch import fetch
    from ichbench.data.load import load_dataset

    out = fetch(args.release, args.out, args.base_url)
    print_summary(summarize(load_dataset(out)))
    return 0
