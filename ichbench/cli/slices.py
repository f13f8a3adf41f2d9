"""`ichbench plan` (what a benchmark costs) and `ichbench merge` (slices of one benchmark into one run)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table


def register(sub: argparse._SubParsersAction) -> None:
    """Add the plan and merge subcommands."""
    plan = sub.add_parser("plan", help="windows, GFLOP, PFLOP and estimated time of every job, before training")
    plan.add_argument("--models", default="all", help="'all' or comma-separated names")
    plan.add_argument("--protocol", default="paper", help="a preset or a TOML file")
    plan.add_argument("--data", type=Path, default=None, help="data folder (default: the protocol's phantom)")
    plan.add_argument("--splits", type=Path, default=None, help="use this split file")
    plan.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    plan.add_argument("--no-calibrate", action="store_true", help="skip the timing of a few training steps")
    plan.add_argument("--json", action="store_true")
    plan.set_defaults(func=cmd_plan)

    from ichbench.cli.bench import ALLOW_DIRTY

    merge = sub.add_parser("merge", help="combine finished jobs of several run directories into one run")
    merge.add_argument("runs", type=Path, nargs="+", help="run directories (slices of one benchmark)")
    merge.add_argument("--out", type=Path, required=True, help="the merged run directory (new)")
    merge.add_argument("--leaderboard", type=Path, default=None, help="leaderboard folder (default: your own)")
    merge.add_argument("--no-leaderboard", action="store_true")
    merge.add_argument(
        "--models", default=None, help="only these models (comma-separated): a run's models merged one at a time"
    )
    merge.add_argument("--json", action="store_true")
    merge.add_argument("--allow-dirty", action="store_true", help=ALLOW_DIRTY)
    merge.set_defaults(func=cmd_merge)

    evidence = sub.add_parser("evidence", help="copy a run's evidence (results, splits) to a folder to commit")
    evidence.add_argument("run", type=Path)
    evidence.add_argument("--out", type=Path, required=True, help="e.g. leaderboards/runs/NAME")
    evidence.set_defaults(func=cmd_evidence)


def cmd_plan(args: argparse.Namespace) -> int:
    """Print the plan of a benchmark."""
    import torch

    from ichbench.benchmark.plan import describe, plan
    from ichbench.data.protocol_data import protocol_dataset
    from ichbench.data.splits import folds_for
    from ichbench.environment import resolve_device
    from ichbench.models.registry import resolve
    from ichbench.protocol import load_protocol

    protocol = load_protocol(args.protocol)
    models = resolve(args.models, protocol)
    dataset = protocol_dataset(protocol, args.data)
    folds = folds_for(dataset, protocol.cv, args.splits)
    doc = plan(models, protocol, dataset, folds, torch.device(resolve_device(args.device)), not args.no_calibrate)
    if args.json:
        print(json.dumps(doc))
        return 0
    table = Table(title=f"plan: {protocol.name} on {dataset.name}")
    for c in ("job", "train win/epoch", "val win/epoch", "once", "GFLOP/win", "PFLOP", "est. here"):
        table.add_column(c, justify="left" if c == "job" else "right")
    for j in doc["jobs"]:
        here = "-" if j["seconds_here"] is None else f"{j['seconds_here'] / 60:.1f} min"
        table.add_row(
            f"{j['model']}/fold{j['fold']}",
            f"{j['train_windows']:,}",
            f"{j['val_windows']:,}",
            f"{j['once_windows']:,}",
            f"{j['gflop_per_window']:.2f}",
            f"{j['pflop']:.2f}",
            here,
        )
    console = Console()
    console.print(table)
    console.print(describe(doc))
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    """Merge run directories."""
    from ichbench.benchmark.merge import merge
    from ichbench.cli.bench import board_dir

    only = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    merged = merge(args.runs, args.out, board_dir(args), only, args.allow_dirty)
    if args.json:
        models = [] if merged.summary is None else json.loads(merged.summary.to_json(orient="records"))
        print(json.dumps({"run": str(args.out), "jobs": merged.found, "missing": merged.missing, "models": models}))
        return 0
    print(f"merged {len(merged.found)} job(s) into {args.out}")
    if merged.missing:
        print(f"missing (no leaderboard row for their models): {', '.join(merged.missing)}")
    return 0


def cmd_evidence(args: argparse.Namespace) -> int:
    """Copy a run's evidence."""
    from ichbench.benchmark.export import export_evidence

    written = export_evidence(args.run, args.out)
    print(f"{len(written)} job(s) written to {args.out}" + (f": {', '.join(written)}" if written else ""))
    return 0
