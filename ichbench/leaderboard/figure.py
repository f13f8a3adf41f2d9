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
    `train_pflop`, optional `label` and `seeds`), the Pareto front joined; published Dice as horizontal
    lines (they have no budget). A row of several seeds, whose Dice is their mean, is drawn at the compute
    of one seed and says so. Labels sit in a column right of the axes, joined to their points, so that they
    never overlap. None when no row has a positive budget (the threshold bands train nothing)."""
    rows = rows[pd.to_numeric(rows["train_pflop"], errors="coerce") > 0]
    if rows.empty:
        return None
    seeds = pd.to_numeric(rows["seeds"], errors="coerce").fillna(1).to_numpy(float) if "seeds" in rows else 1.0
    x = rows["train_pflop"].to_numpy(float) / np.maximum(seeds, 1.0)
    y = rows["dice_paper"].to_numpy(float)
    labels = [
        str(text) + (f", mean of {n:.0f} seeds at one seed's PFLOP" if n > 1 else "")
        for text, n in zip(rows["label"] if "label" in rows else rows["model"], np.broadcast_to(seeds, x.shape))
    ]
    front = pareto_front(x, y)
    fig, ax = plt.subplots(figsize=(WIDTH, max(5.0, 0.3 * len(x))))
    ax.scatter(x[~front], y[~front], color="tab:blue", label="row")
    ax.scatter(x[front], y[front], color="tab:red", label="Pareto front")
    order = np.argsort(x[front])
    ax.plot(x[front][order], y[front][order], color="tab:red", lw=1)
    for name, value in (published or {}).items():
        ax.axhline(value, color="grey", ls="--", lw=1)
        ax.annotate(f"{name} (published)", (x.min(), value), textcoords="offset points", xytext=(0, 3), fontsize=10)
    ax.set_xscale("log")
    ax.set_xlabel("training compute, PFLOP (all folds of one seed, log scale)")
    ax.set_ylabel("Dice (paper definition)")
    low, high = ax.get_ylim()
    for xi, yi, text, at in zip(x, y, labels, label_heights((y - low) / (high - low), 0.9 / max(len(x), 18))):
        ax.annotate(
            text,
            (xi, yi),
            xytext=(1.02, at),
            textcoords="axes fraction",
            va="center",
            fontsize=10,
            arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.6},
        )
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    return png(fig)


def label_heights(y: np.ndarray, gap: float) -> np.ndarray:
    """Heights (axes fraction) for labels of points at heights `y`: each as near its point as it can be, in
    the points' order, at least `gap` apart and inside [0, 1]."""
    y = np.clip(np.asarray(y, float), 0.0, 1.0)
    order = np.argsort(y, kind="stable")
    placed = y[order].copy()
    for k in range(1, len(placed)):  # push up to keep the gap
        placed[k] = max(placed[k], placed[k - 1] + gap)
    overflow = placed[-1] - 1.0 if len(placed) else 0.0
    if overflow > 0:  # then down, from the top, where they ran past the axes
        placed[-1] = 1.0
        for k in range(len(placed) - 2, -1, -1):
            placed[k] = min(placed[k], placed[k + 1] - gap)
    out = np.empty_like(placed)
    out[order] = placed
    return out
