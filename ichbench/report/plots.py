"""Report figures with matplotlib (Agg), returned as PNG bytes.

Sized to be read at 100 percent zoom on a 1280 px screen at the report's default 90 dpi: every figure
at least 7 inches (630 px) wide, text at least 11 pt, legends outside the data.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display: figures only ever go to files

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ichbench.data.dataset import SUBTYPES  # noqa: E402
from ichbench.evaluation.subtypes import ABBREVIATIONS  # noqa: E402
from ichbench.leaderboard.figure import WIDTH, legend_outside, png  # noqa: E402


def forest(results: pd.DataFrame, published: dict[str, float] | None) -> bytes:
    """Who wins: each model's paper Dice with its 95% CI, best on top; published values as marks."""
    order = results.sort_values("dice_paper", na_position="first")
    fig, ax = plt.subplots(figsize=(WIDTH, 0.55 * len(order) + 1.4))
    y = np.arange(len(order))
    lows = [ci[0] for ci in order["dice_paper_ci"]]
    highs = [ci[1] for ci in order["dice_paper_ci"]]
    means = order["dice_paper"].to_numpy(float)
    ax.errorbar(
        means,
        y,
        xerr=[np.clip(means - lows, 0, None), np.clip(np.subtract(highs, means), 0, None)],
        fmt="o",
        color="tab:blue",
        capsize=4,
        label="ichbench: mean, 95% bootstrap CI",
    )
    if published:
        marks = [(i, published[m]) for i, m in enumerate(order["model"]) if m in published]
        if marks:
            ax.scatter(
                [v for _, v in marks],
                [i for i, _ in marks],
                marker="D",
                color="tab:red",
                zorder=3,
                label="published (Table 9; the fixed band: section 5)",
            )
    ax.set_yticks(y, order["model"])
    ax.set_xlabel("Dice per subject (paper definition)")
    ax.set_xlim(0, max(1e-3, np.nanmax(np.r_[highs, means, list((published or {}).values())])) * 1.1)
    ax.grid(axis="x", alpha=0.3)
    legend_outside(ax)
    return png(fig)


def subject_dice(per_subject: pd.DataFrame, models: list[str]) -> bytes:
    """Box plot with the subjects as points: per-subject Dice (paper definition) of each model."""
    sick = per_subject[per_subject["has_hemorrhage"].astype(bool)]
    data = [sick[sick.model == m]["dice_paper"].dropna().to_numpy() for m in models]
    fig, ax = plt.subplots(figsize=(max(WIDTH, 1.3 * len(models) + 2), 4.5))
    ax.boxplot(data, showfliers=False)
    ax.set_xticks(range(1, len(models) + 1), models, rotation=20)
    rng = np.random.default_rng(0)
    for i, values in enumerate(data, start=1):
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(values)), values, s=18, alpha=0.6, color="tab:blue")
    ax.set_ylabel("Dice per subject (paper)")
    ax.set_ylim(-0.02, 1.02)
    return png(fig)


def loss_curves(history: pd.DataFrame, models: list[str]) -> bytes | None:
    """Training and validation loss per epoch, one panel per model (three a row), one line pair per fold."""
    trained = [m for m in models if (history.get("model") is not None) and (history.model == m).any()]
    if not trained:
        return None
    cols = min(3, len(trained))
    rows = -(-len(trained) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols + 1.6, 3.2 * rows), squeeze=False)
    for ax, model in zip(axes.flat, trained):
        for fold, g in history[history.model == model].groupby("fold"):
            line = ax.plot(g.epoch, g.train_loss, label=f"fold {fold}")[0]
            ax.plot(g.epoch, g.val_loss, "--", color=line.get_color())
        ax.set_title(model)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
    for ax in list(axes.flat)[len(trained) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    handles += [plt.Line2D([], [], color="k"), plt.Line2D([], [], color="k", ls="--")]
    fig.legend(
        handles, labels + ["training", "validation"], loc="upper left", bbox_to_anchor=(1.0, 0.95), frameon=False
    )
    fig.tight_layout()
    return png(fig)


# The per-epoch validation score of each select rule, best first: what shows a model learning.
SCORES = (
    ("val_best_jaccard", "validation Jaccard (paper), best threshold"),
    ("val_jaccard", "validation Jaccard (paper)"),
    ("val_jaccard_loss", "validation soft-Jaccard loss"),
)


def learning_curves(history: pd.DataFrame, models: list[str]) -> bytes | None:
    """Per epoch, mean over folds: training loss (left) and the validation score (right), a line per model."""
    score = next(((c, label) for c, label in SCORES if c in history and history[c].notna().any()), None)
    trained = [m for m in models if "model" in history and (history.model == m).any()]
    if score is None or not trained:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH + 1.5, 4.2))  # with the legend: within 1150 px
    for model in trained:
        mean = history[history.model == model].groupby("epoch")[["train_loss", score[0]]].mean()
        line = axes[0].plot(mean.index, mean.train_loss, marker="o", ms=3, label=model)[0]
        axes[1].plot(mean.index, mean[score[0]], marker="o", ms=3, color=line.get_color())
    for ax, label in zip(axes, ("training loss", score[1])):
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="upper left", bbox_to_anchor=(1.0, 0.95), frameon=False)
    fig.tight_layout()
    return png(fig)


def curve_lines(curves: pd.DataFrame, models: list[str]) -> dict[str, pd.Series]:
    """Validation Dice against the threshold, mean over folds: one line per model, or per model and seed
    ("model (seed s)") for a run of several seeds."""
    lines = {}
    for model in models:
        mine = curves[curves.model == model] if len(curves) else curves
        seeded = "seed" in mine and mine["seed"].notna().any()
        for seed, rows in mine.groupby("seed") if seeded else [(None, mine)]:
            if len(rows):
                label = model if seed is None else f"{model} (seed {int(seed)})"
                lines[label] = rows.groupby("threshold")["dice"].mean()
    return lines


def threshold_curves(curves: pd.DataFrame, models: list[str]) -> bytes | None:
    """The figure of curve_lines."""
    lines = curve_lines(curves, models)
    if not lines:
        return None
    fig, ax = plt.subplots(figsize=(WIDTH - 2, 4.2))
    for label, mean in lines.items():
        ax.plot(mean.index, mean.values, marker="o", ms=5, label=label)
    ax.set_xlabel("threshold")
    ax.set_ylabel("validation Dice (paper)")
    legend_outside(ax)
    return png(fig)


def subtype_breakdown(scores: pd.DataFrame, models: list[str]) -> bytes:
    """Slice-level Dice and detection sensitivity per hemorrhage type and model (evaluation.subtypes)."""
    fig, axes = plt.subplots(2, 1, figsize=(WIDTH, 7.0), sharex=True)
    width = 0.8 / max(len(models), 1)
    for k, model in enumerate(models):
        mine = scores[scores.model == model].set_index("subtype").reindex(list(SUBTYPES))
        for ax, col in zip(axes, ("dice", "sensitivity")):
            ax.bar(np.arange(len(SUBTYPES)) + k * width, mine[col].fillna(0), width, label=model)
    for ax, col in zip(axes, ("slice Dice", "detection sensitivity")):
        ax.set_xticks(np.arange(len(SUBTYPES)) + 0.4 - width / 2, [ABBREVIATIONS[t] for t in SUBTYPES])
        ax.set_ylabel(col)
        ax.set_ylim(0, 1)
    legend_outside(axes[0])
    return png(fig)


def bland_altman(per_subject: pd.DataFrame, models: list[str]) -> bytes | None:
    """Volume agreement per model (subjects with hemorrhage): predicted - true against their mean, in voxels,
    with the mean difference and its 95% limits of agreement (mean +- 1.96 sd). None for runs from before
    the per-subject volumes were recorded."""
    if "pred_voxels" not in per_subject:
        return None
    sick = per_subject[per_subject["has_hemorrhage"].astype(bool)].dropna(subset=["pred_voxels", "true_voxels"])
    shown = [m for m in models if (sick["model"] == m).any()]
    if not shown:
        return None
    cols = min(3, len(shown))
    rows = -(-len(shown) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 2.9 * rows), squeeze=False, sharey=False)
    for ax in axes.flat[len(shown) :]:
        ax.axis("off")
    for ax, model in zip(axes.flat, shown):
        mine = sick[sick["model"] == model]
        pred, true = mine["pred_voxels"].to_numpy(float), mine["true_voxels"].to_numpy(float)
        diff, mean = pred - true, (pred + true) / 2
        bias, spread = diff.mean(), 1.96 * diff.std(ddof=1) if len(diff) > 1 else 0.0
        ax.scatter(mean, diff, s=12, color="tab:blue")
        for level, style in ((bias, "-"), (bias - spread, "--"), (bias + spread, "--")):
            ax.axhline(level, color="grey", ls=style, lw=1)
        ax.set_title(f"{model} (bias {bias:.0f})", fontsize=11)
        ax.set_xlabel("mean of predicted and true (voxels)", fontsize=10)
        ax.set_ylabel("predicted - true (voxels)", fontsize=10)
    fig.tight_layout()
    return png(fig)
