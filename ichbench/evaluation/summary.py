"""From a model's per-slice and per-subject rows to its summary: every metric of the table with its std.

Subject metrics average over the subjects with hemorrhage, empty ones over those without, pooled ones
sum the counts (their std over folds), cohort ones take the subject rows (their std over folds). With
several training seeds, each subject's values are first averaged over them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ichbench.evaluation.metrics import (
    COUNT_COLUMNS,
    ORIGINAL_TRUTH_SCALE,
    detected,
    dice_array,
    names,
    sd,
    table,
)
from ichbench.rundir import JobResult


def _with_detection(per_slice: pd.DataFrame, min_pixels: int) -> pd.DataFrame:
    """Per-slice rows with the slice-detection indicators of COUNT_COLUMNS added."""
    p = detected(per_slice["pred_pixels"], min_pixels)
    t = detected(per_slice["truth_pixels"], min_pixels)
    o = detected(per_slice["truth_pixels"] * ORIGINAL_TRUTH_SCALE, min_pixels)
    positive = per_slice["truth_pixels"] > 0
    own = np.where(positive, np.nan_to_num(dice_array(per_slice["tp"], per_slice["fp"], per_slice["fn"])), 0.0)
    return per_slice.assign(
        d_tp=p & t, d_fp=p & ~t, d_fn=~p & t, d_tn=~p & ~t, o_tp=p & o, o_fp=p & ~o, o_fn=~p & o, o_tn=~p & ~o,
        s_dice=own, s_pos=positive,
    )  # fmt: skip


def subject_counts(per_slice: pd.DataFrame, min_pixels: int) -> pd.DataFrame:
    """Per (fold, subject): the sums of COUNT_COLUMNS, the raw material of every pooled metric."""
    frame = _with_detection(per_slice, min_pixels)
    return frame.groupby(["fold", "subject"])[list(COUNT_COLUMNS)].sum().reset_index()


def pooled_values(counts: np.ndarray, only: str | None = None) -> dict[str, np.ndarray]:
    """Every pooled metric (or the `only` one) from (..., n, len(COUNT_COLUMNS)) count rows, summed over
    the n rows."""
    sums = np.asarray(counts, float).sum(axis=-2)
    columns = {k: sums[..., i] for i, k in enumerate(COUNT_COLUMNS)}
    return {m.name: m.formula(columns) for m in table("pooled") if only in (None, m.name)}


def pooled(per_slice: pd.DataFrame, min_pixels: int) -> dict[str, float]:
    """Every pooled metric over these slices."""
    counts = _with_detection(per_slice, min_pixels)[list(COUNT_COLUMNS)].to_numpy(float)
    return {k: float(v) for k, v in pooled_values(counts).items()}


def by_level(per_subject: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The per-subject rows each per-subject level is taken over: "subject" metrics over the subjects with
    hemorrhage, "empty" ones over the subjects without (the row's means, the report's intervals)."""
    sick = per_subject["has_hemorrhage"].astype(bool)
    return [("subject", per_subject[sick]), ("empty", per_subject[~sick])]


def summarize(per_slice: pd.DataFrame, per_subject: pd.DataFrame, min_pixels: int) -> dict[str, float]:
    """Mean and std of every metric: subject metrics over subjects with hemorrhage, empty ones over the
    subjects without, pooled ones over all slices and cohort ones over all subjects (their std over
    folds). Standard deviations as metrics.sd computes them."""
    out: dict[str, float] = {}
    for level, rows in by_level(per_subject):
        for name in names(level):
            values = rows[name].dropna().to_numpy(float) if name in rows else np.array([])
            out[name] = float(values.mean()) if len(values) else math.nan
            out[f"{name}_std"] = sd(values)
    for m in table("cohort"):  # one value over every test subject; std over folds
        out[m.name] = m.formula(per_subject)
        folds = per_subject.groupby("fold") if "fold" in per_subject else []
        out[f"{m.name}_std"] = sd(np.array([m.formula(group) for _, group in folds], float))
    overall = pooled(per_slice, min_pixels)
    by_fold = [pooled(group, min_pixels) for _, group in per_slice.groupby("fold")]
    for name in names("pooled"):
        out[name] = overall[name]
        out[f"{name}_std"] = sd(np.array([f[name] for f in by_fold], float))
    return out


def summarize_results(results: list[JobResult], min_pixels: int) -> dict[str, float]:
    """`summarize` over the finished jobs (folds, and seeds) of one model. With several seeds, each subject's
    values are averaged over the seeds first (the paired tests see the same averages) and the pixel counts
    are pooled over them; `seeds` and `dice_paper_seed_std` say how many and how far their means spread."""
    per_slice = pd.DataFrame([row for r in results for row in r.per_slice])
    per_subject = pd.DataFrame([row for r in results for row in r.per_subject])
    seeds = sorted({r.seed for r in results}, key=lambda s: -1 if s is None else s)
    out = summarize(per_slice, seed_average(per_subject), min_pixels)
    spread = np.array([], float)
    if len(seeds) > 1:
        by_seed = [per_subject[per_subject["seed"] == s] for s in seeds]
        spread = np.array([summarize(per_slice.iloc[:0], rows, min_pixels)["dice_paper"] for rows in by_seed])
    return {
        **out,
        "seeds": len(seeds),
        "dice_paper_seed_std": sd(spread),
    }


def seed_average(per_subject: pd.DataFrame) -> pd.DataFrame:
    """Per-subject rows with each (model, fold, subject)'s values averaged over its seeds (as they are)."""
    if "seed" not in per_subject or per_subject["seed"].nunique() < 2:
        return per_subject
    keys = [k for k in ("model", "fold", "subject") if k in per_subject]
    numeric = per_subject.drop(columns=["seed"]).select_dtypes("number").columns.difference(keys)
    averaged = per_subject.groupby(keys, sort=False)[list(numeric)].mean()
    flags = per_subject.groupby(keys, sort=False)["has_hemorrhage"].first()
    return averaged.join(flags).reset_index()
