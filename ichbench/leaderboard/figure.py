"""Figures shared by the leaderboard page and the report (matplotlib, Agg), returned as PNG bytes.

Sized to be read at 100 percent zoom on a 1280 px screen at the report's default 90 dpi: every figure
at least 7 inches (630 px) wide, text at least 11 pt, legends outside the data.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display: figures only ever go to files

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ichbench.evaluation.budget import pareto_front  # noqa: E402

STYLE = {
    "font.size": 12,
    "axes.titlesize": 12,
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "figure.titlesize": 13,
}
WIDTH = 9.0  # inches: 810 px at 90 dpi


def png(fig: plt.Figure) -> bytes:
    """Render and close a figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")  # dpi from rcParams: build_report sets it
    plt.close(fig)
    return buf.getvalue()


def legend_outside(ax: plt.Axes) -> None:
    """A legend to the right of the axes, outside the data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)


def budget(rows: pd.DataFrame, published: dict[str, float] | None = None) -> bytes | None:
    """Dice against training compute (PFLOP, log axis), one point per row (`model`, `dice_paper`,
    `train_pflop`, optional `label`), the Pareto front joined; published Dice as horizontal lines (they
    have no budget). None when no row has a positive budget (the threshold bands train nothing)."""
    rows = rows[pd.to_numeric(rows["train_pflop"], errors="coerce") > 0]
    if rows.empty:
        return None
    x, y = rows["train_pflop"].to_numpy(float), rows["dice_paper"].to_numpy(float)
    labels = rows["label"] if "label" in rows else rows["model"]
    front = pareto_front(x, y)
    fig, ax = plt.subplots(figsize=(WIDTH, 5.0))
    ax.scatter(x[~front], y[~front], color="tab:blue", label="row")
    ax.scatter(x[front], y[front], color="tab:red", label="Pareto front")
    order = np.argsort(x[front])
    ax.plot(x[front][order], y[front][order], color="tab:red", lw=1)
    for xi, yi, text in zip(x, y, labels):
        ax.annotate(str(text), (xi, yi), textcoords="offset points", xytext=(5, 4), fontsize=10)
    for name, value in (published or {}).items():
        ax.axhline(value, color="grey", ls="--", lw=1)
        ax.annotate(f"{name} (published)", (x.min(), value), textcoords="offset points", xytext=(0, 3), fontsize=10)
    ax.set_xscale("log")
    ax.set_xlabel("training compute, PFLOP (all folds, log scale)")
    ax.set_ylabel("Dice (paper definition)")
    legend_outside(ax)
    return png(fig)
