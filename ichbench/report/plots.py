"""Report figures with matplotlib (Agg), returned as PNG bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display: figures only ever go to files

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ichbench.data.dataset import SUBTYPES  # noqa: E402

ABBREVIATIONS = ["IVH", "IPH", "SAH", "EDH", "SDH"]  # in the order of SUBTYPES


def png(fig: plt.Figure) -> bytes:
    """Render and close a figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")  # dpi from rcParams: build_report sets it
    plt.close(fig)
    return buf.getvalue()


def subject_dice(per_subject: pd.DataFrame, models: list[str]) -> bytes:
    """Box plot with the subjects as points: per-subject Dice (paper definition) of each model."""
    sick = per_subject[per_subject["has_hemorrhage"].astype(bool)]
    data = [sick[sick.model == m]["dice_paper"].dropna().to_numpy() for m in models]
    fig, ax = plt.subplots(figsize=(1.4 * len(models) + 2, 3.6))
    ax.boxplot(data, showfliers=False)
    ax.set_xticks(range(1, len(models) + 1), models, rotation=20)
    rng = np.random.default_rng(0)
    for i, values in enumerate(data, start=1):
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(values)), values, s=12, alpha=0.6, color="tab:blue")
    ax.set_ylabel("Dice per subject (paper)")
    ax.set_ylim(-0.02, 1.02)
    return png(fig)


def loss_curves(history: pd.DataFrame, models: list[str]) -> bytes | None:
    """Training and validation loss per epoch, one panel per model, one line pair per fold."""
    trained = [m for m in models if (history.get("model") is not None) and (history.model == m).any()]
    if not trained:
        return None
    fig, axes = plt.subplots(1, len(trained), figsize=(3.2 * len(trained), 2.8), squeeze=False)
    for ax, model in zip(axes[0], trained):
        for fold, g in history[history.model == model].groupby("fold"):
            line = ax.plot(g.epoch, g.train_loss, label=f"train f{fold}")[0]
            ax.plot(g.epoch, g.val_loss, "--", color=line.get_color(), label=f"val f{fold}")
        ax.set_title(model, fontsize=9)
        ax.set_xlabel("epoch")
    axes[0][0].set_ylabel("loss")
    axes[0][-1].legend(fontsize=6)
    return png(fig)


def threshold_curves(curves: pd.DataFrame, models: list[str]) -> bytes | None:
    """Validation Dice against the threshold, mean over folds."""
    if curves.empty:
        return None
    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    for model in models:
        mine = curves[curves.model == model]
        if len(mine):
            mean = mine.groupby("threshold")["dice"].mean()
            ax.plot(mean.index, mean.values, marker="o", ms=3, label=model)
    ax.set_xlabel("threshold")
    ax.set_ylabel("validation Dice (paper)")
    ax.legend(fontsize=7)
    return png(fig)


def subtype_breakdown(per_slice: pd.DataFrame, models: list[str], min_pixels: int) -> tuple[bytes, pd.DataFrame]:
    """Slice-level Dice and detection sensitivity per hemorrhage subtype and model."""
    rows = []
    for model in models:
        mine = per_slice[per_slice.model == model]
        for subtype in SUBTYPES:
            flagged = mine[(mine[subtype.lower()] == 1) & (mine.truth_pixels > 0)]
            with np.errstate(invalid="ignore", divide="ignore"):
                d = (2 * flagged.tp / (2 * flagged.tp + flagged.fp + flagged.fn)).mean()
            positive = flagged[flagged.truth_pixels > min_pixels]
            sens = (positive.pred_pixels > min_pixels).mean() if len(positive) else np.nan
            rows.append({"model": model, "subtype": subtype, "slices": len(flagged), "dice": d, "sensitivity": sens})
    table = pd.DataFrame(rows)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    width = 0.8 / max(len(models), 1)
    for k, model in enumerate(models):
        mine = table[table.model == model]
        for ax, col in zip(axes, ("dice", "sensitivity")):
            ax.bar(np.arange(len(SUBTYPES)) + k * width, mine[col].fillna(0), width, label=model)
    for ax, col in zip(axes, ("slice Dice", "detection sensitivity")):
        ax.set_xticks(np.arange(len(SUBTYPES)) + 0.4 - width / 2, ABBREVIATIONS)
        ax.set_ylabel(col)
        ax.set_ylim(0, 1)
    axes[1].legend(fontsize=6)
    return png(fig), table
