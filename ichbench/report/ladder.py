"""A recipe ladder: one model under recipes given in order, each rung tested against the rung below it."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ichbench.evaluation.summary import seed_average
from ichbench.report.stats import bootstrap_ci, holm, paired_ci, paired_wilcoxon

LADDER_TEST = (
    "Each rung against the rung below it: paired two-sided Wilcoxon signed-rank test over the subjects with "
    "hemorrhage (each subject's Dice averaged over seeds; normal approximation with continuity correction, zero "
    "differences dropped, as for every paired test here), Holm-adjusted over the ladder's steps; 95% bootstrap "
    "interval of each rung's mean, and of each step (the mean paired difference over the subjects both rungs "
    "scored, resampled in the order of their subject ids). Training PFLOP and hours are the rung's folds "
    "summed (its budget columns). Lesion precision, lesion F1 and the false-positive voxels per hemorrhage-free "
    "scan are the rung's own (the metric table's definitions), what the paper's Dice does not see."
)
# What each rung shows beside its Dice: the summary's columns, as the metric table names them.
SIDE_COLUMNS = ("lesion_precision", "lesion_f1", "fp_volume_empty", "train_pflop", "train_hours")


def ladder_table(per_subject: pd.DataFrame, summary: pd.DataFrame, rungs: list[str]) -> pd.DataFrame:
    """One row per rung: mean Dice and CI, the step from the rung below with its p-value, its false lesions
    and the cost."""
    sick = seed_average(per_subject)
    sick = sick[sick["has_hemorrhage"].astype(bool)]
    table = sick.pivot_table(index=["fold", "subject"], columns="model", values="dice_paper")
    cost = summary.set_index("model")
    rows = []
    for i, rung in enumerate(rungs):
        values = table[rung].dropna().to_numpy(float)
        low, high = bootstrap_ci(values)
        below = rungs[i - 1] if i else None
        step_low, step_high = paired_ci(table[rung], table[below]) if below else (np.nan, np.nan)
        rows.append(
            {
                "rung": rung,
                "subjects": len(values),
                "dice": values.mean(),
                "low": low,
                "high": high,
                "step": values.mean() - table[below].dropna().mean() if below else np.nan,
                "step_low": step_low,
                "step_high": step_high,
                "p": paired_wilcoxon(table[rung], table[below]) if below else np.nan,
            }
            | {column: _cost(cost, rung, column) for column in SIDE_COLUMNS}
        )
    frame = pd.DataFrame(rows)
    steps = frame["p"].notna()
    frame["p_holm"] = np.nan
    if steps.any():
        frame.loc[steps, "p_holm"] = holm(frame.loc[steps, "p"].tolist())
    return frame


def _cost(cost: pd.DataFrame, rung: str, column: str) -> float:
    return float(cost.loc[rung, column]) if column in cost and rung in cost.index else np.nan


def ladder_figure(frame: pd.DataFrame) -> bytes:
    """Dice with its 95% interval per rung, and the rung's training compute on a second axis."""
    fig, ax = plt.subplots(figsize=(max(4.0, 1.3 * len(frame)), 3.6))
    x = np.arange(len(frame))
    ax.errorbar(
        x,
        frame["dice"],
        yerr=[frame["dice"] - frame["low"], frame["high"] - frame["dice"]],
        fmt="o-",
        color="tab:blue",
        capsize=4,
    )
    ax.set_ylabel("Dice (paper), 95% CI", color="tab:blue")
    ax.set_xticks(x, [r.split(" @ ")[-1] for r in frame["rung"]], rotation=20, ha="right")
    cost = ax.twinx()
    cost.bar(x, frame["train_pflop"].fillna(0), alpha=0.25, color="tab:gray", width=0.5)
    cost.set_ylabel("training PFLOP", color="tab:gray")
    ax.set_zorder(cost.get_zorder() + 1)
    ax.patch.set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
