"""Result tables for the terminal: the metric table's key columns, readable at 80 columns."""

from __future__ import annotations

import math

import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table

from ichbench.evaluation.budget import BUDGET, BUDGET_COLUMNS, fmt_budget
from ichbench.evaluation.metrics import ALL_FLAGGED_NOTE, all_flagged, fmt, table


def print_results(frame, title: str, wide: bool = False, extra: tuple[str, ...] | list[str] = ()) -> None:
    """One row per model: the key metrics of the metric table (every one with `wide`), three decimals.

    Narrow enough for an 80-column terminal by default; numbers are never shortened."""
    metrics = [m for m in table() if wide or m.key]
    # No vertical rules and one space between columns: the room goes to the numbers.
    out = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, collapse_padding=True)
    out.add_column("model", no_wrap=True)
    recipes = "recipe" in frame  # a leaderboard table: every recipe of one test
    if recipes:
        out.add_column("recipe", no_wrap=True)
    for m in metrics:
        out.add_column(m.label + (" ±sd" if wide and m.level == "subject" else ""), justify="right", no_wrap=True)
    labels = {name: label for name, label, _ in BUDGET}
    for c in extra:
        out.add_column(labels.get(c, c), justify="right", no_wrap=True)
    for _, row in frame.iterrows():
        cells = [str(row["model"])] + ([str(row["recipe"])] if recipes else [])
        for m in metrics:
            std = row.get(f"{m.name}_std", math.nan) if wide and m.level == "subject" else math.nan
            text = fmt(m, row.get(m.name, math.nan))
            text = text if text == "-" or math.isnan(std) else f"{text}±{fmt(m, std)}"
            cells.append(text + all_flagged(m, row) if text != "-" else text)
        cells += [_extra(c, row.get(c)) for c in extra]
        out.add_row(*cells)
    # --wide or the budget is asked for: lines may run past the terminal rather than shorten a number.
    console = Console(width=400 if wide or set(extra) & set(labels) else None)
    console.print(out)
    if any(all_flagged(m, row) for _, row in frame.iterrows() for m in metrics):
        console.print(ALL_FLAGGED_NOTE, highlight=False)


def _extra(column: str, value: object) -> str:
    """A non-metric column: a budget value as the budget formats it, anything else a whole number."""
    if column in BUDGET_COLUMNS:
        return fmt_budget(column, value)
    return "-" if pd.isna(value) else f"{float(value):.0f}"
