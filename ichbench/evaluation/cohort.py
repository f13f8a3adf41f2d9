"""Cohort metrics: one statistic over the test subjects' rows, not a mean of per-subject values.

Volume agreement (the ICC of predicted against true hemorrhage volume; ICH volume drives treatment) and
lesion-wise detection pooled over subjects. Each takes the per-subject rows (a DataFrame with the
fields that `evaluation.scoring.subject_scores` writes) and returns a float; NaN where the rows
predate the fields or hold too few subjects.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

VOLUME_FIELDS = ("pred_voxels", "true_voxels")
LESION_FIELDS = ("lesions_true", "lesions_found", "lesions_pred", "lesions_pred_hit")


def icc_a1(ratings: np.ndarray) -> float:
    """ICC(A,1) of McGraw and Wong (1996): two-way model, absolute agreement, single measure, for an
    (n subjects, k raters) array: (MSR - MSE) / (MSR + (k - 1) MSE + k (MSC - MSE) / n)."""
    y = np.asarray(ratings, float)
    n, k = y.shape
    if n < 2 or k < 2:
        return math.nan
    grand = y.mean()
    ssr = k * ((y.mean(axis=1) - grand) ** 2).sum()
    ssc = n * ((y.mean(axis=0) - grand) ** 2).sum()
    sse = ((y - grand) ** 2).sum() - ssr - ssc
    msr, msc, mse = ssr / (n - 1), ssc / (k - 1), sse / ((n - 1) * (k - 1))
    denominator = msr + (k - 1) * mse + k * (msc - mse) / n
    return float((msr - mse) / denominator) if denominator > 0 else math.nan


def volume_icc(rows: pd.DataFrame) -> float:
    """ICC(A,1) of predicted against true volume (voxels) over the subjects with hemorrhage."""
    if not set(VOLUME_FIELDS) <= set(rows.columns):
        return math.nan
    sick = rows[rows["has_hemorrhage"].astype(bool)]
    return icc_a1(sick[list(VOLUME_FIELDS)].to_numpy(float))


def _lesions(rows: pd.DataFrame) -> dict[str, float] | None:
    if not set(LESION_FIELDS) <= set(rows.columns) or rows[list(LESION_FIELDS)].isna().any().any():
        return None
    return {k: float(rows[k].sum()) for k in LESION_FIELDS}


def lesion_sensitivity(rows: pd.DataFrame) -> float:
    """True lesions found / true lesions, over every subject."""
    n = _lesions(rows)
    return math.nan if n is None or not n["lesions_true"] else n["lesions_found"] / n["lesions_true"]


def lesion_precision(rows: pd.DataFrame) -> float:
    """Predicted components that hit a true lesion / predicted components (empty subjects' count too)."""
    n = _lesions(rows)
    return math.nan if n is None or not n["lesions_pred"] else n["lesions_pred_hit"] / n["lesions_pred"]


def lesion_f1(rows: pd.DataFrame) -> float:
    """The harmonic mean of lesion sensitivity and precision (0 when both are 0)."""
    s, p = lesion_sensitivity(rows), lesion_precision(rows)
    if math.isnan(p) and s == 0:  # nothing predicted at all: every lesion missed
        return 0.0
    if math.isnan(s) or math.isnan(p):
        return math.nan
    return 0.0 if s + p == 0 else 2 * s * p / (s + p)
