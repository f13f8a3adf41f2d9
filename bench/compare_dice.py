"""Compare two runs' paper Dice model by model: the same protocol on two devices, say.

    python bench/compare_dice.py RUN_A RUN_B [--tolerance 0.1]

Prints each model's Dice in both runs and the difference; exits 1 when any differs by more than the
tolerance (absolute) or a model is missing from one run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def differences(a: Path, b: Path) -> pd.DataFrame:
    """model, dice_a, dice_b, difference (b - a), from the two runs' summary.csv."""
    left = pd.read_csv(a / "summary.csv")[["model", "dice_paper"]]
    right = pd.read_csv(b / "summary.csv")[["model", "dice_paper"]]
    both = left.merge(right, on="model", how="outer", suffixes=("_a", "_b"))
    return both.assign(difference=both.dice_paper_b - both.dice_paper_a)


def main(argv: list[str]) -> int:
    """Print the table; exit 1 beyond the tolerance."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--tolerance", type=float, default=0.1)
    args = parser.parse_args(argv)
    table = differences(args.a, args.b)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    bad = table[table.difference.isna() | (table.difference.abs() > args.tolerance)]
    if len(bad):
        print(f"beyond the tolerance {args.tolerance}: {', '.join(bad.model)}", file=sys.stderr)
        return 1
    print(f"every model within {args.tolerance} of the other run")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
