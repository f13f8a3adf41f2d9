"""`ichbench leaderboard`: print a leaderboard, verify its rows from their evidence, attach old rows' evidence."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table


def register(sub: argparse._SubParsersAction) -> None:
    """Add the leaderboard subcommand."""
    board = sub.add_parser(
        "leaderboard",
        help="print the leaderboard; verify every row from its evidence; attach evidence to old rows",
    )
    board.add_argument(
        "action",
        nargs="?",
        choices=["show", "verify", "attach"],
        default="show",
        help="show (default); verify: recompute every row from its evidence, exit 1 on any difference; "
        "attach: give rows without evidence theirs (from --from or their run directory) or mark them unverifiable",
    )
    board.add_argument(
        "--leaderboard",
        "--dir",  # the older spelling; --leaderboard is what run, merge and evaluate take
        dest="dir",
        type=Path,
        default=None,
        help="leaderboard folder (default: --where)",
    )
    board.add_argument("--where", action="store_true", help="print the default leaderboard folder and exit")
    board.add_argument("--json", action="store_true")
    board.add_argument("--render", action="store_true", help="rewrite the folder's README.md from its CSVs")
    board.add_argument("--wide", action="store_true", help="show: every metric, not only the key ones")
    board.add_argument("--sort", default="dice_paper", help="show: order rows by this column (default dice_paper)")
    board.add_argument("--history", action="store_true", help="show: every row, not only each model's latest")
    board.add_argument("--budget", action="store_true", help="show: the budget columns (compute, hours, memory)")
    board.add_argument(
        "--cross",
        action="store_true",
        help="show: the cross-data-set table (every `ichbench evaluate` row: trained on, evaluated on, ensembled?)",
    )
    board.add_argument(
        "--types", action="store_true", help="show: Dice by hemorrhage type, re-derived from each row's evidence"
    )
    board.add_argument(
        "--max-pflop", type=float, default=None, help="show: only rows trained with at most this many PFLOP"
    )
    board.add_argument("--max-hours", type=float, default=None, help="show: only rows trained in at most these hours")
    board.add_argument(
        "--from", dest="sources", type=Path, nargs="*", default=[], help="attach: run or evidence folders"
    )
    board.set_defaults(func=cmd_leaderboard)


def cmd_leaderboard(args: argparse.Namespace) -> int:
    """Print, re-render, verify or attach evidence to the leaderboard."""
    from ichbench.leaderboard import default_directory

    if args.where:
        print(default_directory())
        return 0
    directory = args.dir or default_directory()
    if args.action in ("verify", "attach"):
        from ichbench.leaderboard.verify import attach, verify

        checks = verify(directory) if args.action == "verify" else attach(directory, args.sources)
        return _print_checks(checks, args.json)
    return _show(directory, args)


def _show(directory: Path, args: argparse.Namespace) -> int:
    import pandas as pd

    from ichbench.atomic import atomic_write_text
    from ichbench.errors import RunError
    from ichbench.evaluation.budget import BUDGET_COLUMNS
    from ichbench.evaluation.metrics import TABLE as metric_table
    from ichbench.evaluation.published import on_paper_test, published_rows
    from ichbench.leaderboard import read, render
    from ichbench.leaderboard.cells import recipe_labels

    boards = read(directory)
    if not boards:
        raise RunError(f"{directory}: no leaderboard CSV files (the published tables: --dir leaderboards)")
    if args.render:
        atomic_write_text(directory / "README.md", render(directory))
    if args.json:
        print(json.dumps({k: json.loads(v.to_json(orient="records")) for k, v in boards.items()}))
        return 0
    from ichbench.cli.tables import print_results

    if args.cross:
        _print_cross(boards)
        return 0
    extra = list(BUDGET_COLUMNS) if args.budget else []  # the recipe says how long a row trained
    for stem, frame in boards.items():
        if args.sort not in frame.columns:
            raise RunError(f"--sort {args.sort}: no such column in {stem}.csv")
        key = [c for c in ("model", "recipe_hash") if c in frame]
        rows = frame if args.history else frame.drop_duplicates(key, keep="last")
        rows = _within_budget(rows, args.max_pflop, args.max_hours)
        metric = metric_table.get(args.sort)
        # Costs sort cheapest first, like a metric whose lower values are better.
        ascending = args.sort in BUDGET_COLUMNS or (metric is not None and not metric.higher_is_better)
        rows = rows.sort_values(args.sort, ascending=ascending, na_position="last")
        rows = rows.assign(recipe=recipe_labels(rows)) if {"protocol", "protocol_hash"} <= set(rows) else rows
        if len(rows) and on_paper_test(rows.iloc[0].to_dict()):  # the published means close the table, as on the page
            # Other published results sit in their own metric's column, which only the wide view shows.
            rows = pd.concat([rows, published_rows(anchors=args.wide)], ignore_index=True)
        if args.types:
            _print_types(directory, rows, stem)
            continue
        print_results(rows, f"{stem} ({len(frame)} rows)", wide=args.wide, extra=extra)
    return 0


def _print_cross(boards: dict) -> None:
    """Every external row: the bundle's training data and test, the data set it was evaluated on, whether its
    folds were ensembled, its own test Dice beside the external one."""
    import pandas as pd

    frames = [f.assign(table=stem) for stem, f in boards.items() if "kind" in f and (f["kind"] == "external").any()]
    out = Table(title="Across data sets (ichbench evaluate)")
    heads = ("model", "trained on", "test", "evaluated on", "ensemble", "own Dice", "Dice", "lesion F1")
    for head in heads:
        out.add_column(head, justify="left" if head in ("model", "trained on", "evaluated on") else "right")
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def number(v: object) -> str:
        return "-" if pd.isna(pd.to_numeric(v, errors="coerce")) else f"{float(v):.3f}"

    for _, r in rows[rows["kind"] == "external"].iterrows() if len(rows) else []:
        test = str(r.get("test_hash") or r.get("protocol_hash") or "")[:8]
        cells = (r["model"], r["trained_on"], test, r["dataset"], str(r.get("ensemble") or "-"))
        out.add_row(
            *map(str, cells), number(r.get("own_dice_paper")), number(r["dice_paper"]), number(r.get("lesion_f1"))
        )
    Console().print(out)


def _print_types(directory: Path, rows, stem: str) -> None:
    """Each row's Dice by hemorrhage type, and its lesion sensitivity by type where its evidence counted
    lesions by type (rows with evidence only)."""
    import pandas as pd

    from ichbench.evaluation.subtypes import subtype_table
    from ichbench.leaderboard.types import row_types

    labels = [
        f"{m} {r}" if isinstance(r, str) else str(m) for m, r in zip(rows["model"], rows.get("recipe", rows["model"]))
    ]
    scores = row_types(directory, rows, labels)
    console = Console()
    if scores.empty:
        console.print(f"{stem}: no row with evidence")
        return
    for value, what in (("dice", "Dice (mean per-slice Dice over each type's slices)"),
                        ("lesion_sensitivity", "lesion sensitivity (true lesions of the type found)")):  # fmt: skip
        table = subtype_table(scores, value)
        table = table[table.iloc[:, 1:].notna().any(axis=1)]  # rows from before lesions were counted by type
        if table.empty:
            continue
        out = Table(title=f"{stem}: {what} by hemorrhage type")
        for column in table.columns:
            out.add_column(str(column), justify="left" if column == "model" else "right")
        for _, r in table.iterrows():
            out.add_row(str(r["model"]), *("-" if pd.isna(v) else f"{v:.3f}" for v in r.iloc[1:]))
        console.print(out)


def _within_budget(rows, max_pflop: float | None, max_hours: float | None):
    """The rows whose recorded training budget is within the limits (rows without a budget drop out)."""
    import pandas as pd

    for column, limit in (("train_pflop", max_pflop), ("train_hours", max_hours)):
        if limit is not None:
            values = (
                pd.to_numeric(rows[column], errors="coerce") if column in rows else pd.Series(float("nan"), rows.index)
            )
            rows = rows[values <= limit]
    return rows


def _print_checks(checks: list, as_json: bool) -> int:
    """One line per row; exit 1 when any row failed (unverifiable rows are listed, not failed)."""
    failed = [c for c in checks if c.status == "failed"]
    if as_json:
        print(json.dumps([c.__dict__ for c in checks]))
    else:
        table = Table("table", "row", "model", "status", "detail")
        colour = {"ok": "green", "unverifiable": "yellow", "failed": "red"}
        for c in checks:
            table.add_row(c.table, str(c.row), c.model, f"[{colour[c.status]}]{c.status}[/]", c.detail)
        Console(width=200).print(table)
        counts = {s: sum(c.status == s for c in checks) for s in colour}
        print(f"{counts['ok']} verified, {counts['unverifiable']} unverifiable, {counts['failed']} failed")
    return 1 if failed else 0
