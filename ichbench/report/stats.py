"""Confidence intervals and significance for the report (scipy.stats, seeded).

Bootstrap CIs resample whole subjects: a subject metric (dice_paper, jaccard_paper, dice_3d, hd95)
resamples the subjects with hemorrhage and takes the mean; a pooled metric (dice_global, slice
detection) resamples all test subjects and pools their pixel and slice counts again.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ichbench.evaluation.metrics import COUNT_COLUMNS, names, pooled_values, subject_counts

LEVEL = 0.95


def bootstrap_ci(values: np.ndarray, n_resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of per-subject values (scipy.stats.bootstrap)."""
    values = np.asarray(values, float)
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return math.nan, math.nan
    return _run((values,), np.mean, n_resamples, seed)


def _run(data: tuple, statistic, n_resamples: int, seed: int) -> tuple[float, float]:
    with warnings.catch_warnings():
        # A degenerate distribution (every resample equal, e.g. specificity 1.0) is a point, not an error.
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = stats.bootstrap(
            data,
            statistic,
            n_resamples=n_resamples,
            confidence_level=LEVEL,
            method="percentile",
            random_state=np.random.default_rng(seed),
        )
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    dist = res.bootstrap_distribution[~np.isnan(res.bootstrap_distribution)]
    if math.isnan(low) and len(dist) and np.ptp(dist) == 0:
        return float(dist[0]), float(dist[0])
    return low, high


def pooled_ci(counts: pd.DataFrame, metric: str, n_resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of a pooled metric, resampling subjects (rows of subject_counts)."""
    rows = counts[list(COUNT_COLUMNS)].to_numpy(float)
    if len(rows) < 2:
        return math.nan, math.nan
    return _run((np.arange(len(rows)),), lambda i, axis=-1: pooled_values(rows[i], metric)[metric], n_resamples, seed)


def metric_cis(per_subject: pd.DataFrame, per_slice: pd.DataFrame, min_pixels: int, seed: int = 0) -> dict:
    """metric -> (low, high) for one model."""
    out = {}
    sick = per_subject[per_subject["has_hemorrhage"].astype(bool)]
    for name in names("subject"):
        out[name] = bootstrap_ci(sick[name].to_numpy(float), seed=seed)
    counts = subject_counts(per_slice, min_pixels)
    for name in names("pooled"):
        out[name] = pooled_ci(counts, name, seed=seed)
    return out


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order."""
    m = len(pvalues)
    order = np.argsort(pvalues)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted.tolist()


def wilcoxon_matrix(per_subject: pd.DataFrame, metric: str = "dice_paper") -> pd.DataFrame:
    """Holm-adjusted p-values of paired Wilcoxon signed-rank tests between every pair of models."""
    sick = per_subject[per_subject["has_hemorrhage"].astype(bool)]
    table = sick.pivot_table(index=["fold", "subject"], columns="model", values=metric)
    models = list(dict.fromkeys(per_subject["model"]))
    pairs = list(itertools.combinations(models, 2))
    raw = [paired_wilcoxon(table[a], table[b]) for a, b in pairs]
    adjusted = holm(raw) if raw else []
    matrix = pd.DataFrame(np.nan, index=models, columns=models)
    for (a, b), p in zip(pairs, adjusted):
        matrix.loc[a, b] = matrix.loc[b, a] = p
    return matrix


def paired_wilcoxon(a: pd.Series, b: pd.Series) -> float:
    """Two-sided Wilcoxon signed-rank p-value over subjects scored by both; 1.0 when they never differ."""
    both = pd.concat([a, b], axis=1).dropna()
    diff = both.iloc[:, 0] - both.iloc[:, 1]
    if len(both) < 2 or not diff.any():
        return 1.0
    return float(stats.wilcoxon(both.iloc[:, 0], both.iloc[:, 1]).pvalue)
