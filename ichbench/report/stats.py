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

from ichbench.evaluation.metrics import COUNT_COLUMNS, names, sd, table
from ichbench.evaluation.summary import by_level, pooled_values, subject_counts

LEVEL = 0.95
# Every Wilcoxon p-value of a report by one method: the normal approximation (zero differences dropped,
# continuity-corrected), which, unlike scipy's "auto", does not switch to the exact distribution for
# some pairs (no ties, no zeros) and stay approximate for others.
WILCOXON = {"method": "approx", "zero_method": "wilcox", "correction": True}


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
    if math.isnan(low) and len(dist) >= 2:
        # Some resamples have no value (a cohort statistic of a draw without spread) or every one the same
        # (a degenerate distribution): the percentiles of the resamples that have one.
        low, high = np.percentile(dist, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return float(low), float(high)


def pooled_ci(counts: pd.DataFrame, metric: str, n_resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of a pooled metric, resampling subjects (rows of subject_counts)."""
    rows = counts[list(COUNT_COLUMNS)].to_numpy(float)
    if len(rows) < 2:
        return math.nan, math.nan
    return _run((np.arange(len(rows)),), lambda i, axis=-1: pooled_values(rows[i], metric)[metric], n_resamples, seed)


def metric_cis(per_subject: pd.DataFrame, per_slice: pd.DataFrame, min_pixels: int, seed: int = 0) -> dict:
    """metric -> (low, high) for one model."""
    out = {}
    for level, rows in by_level(per_subject):
        for name in names(level):
            out[name] = bootstrap_ci(rows[name].to_numpy(float), seed=seed) if name in rows else (math.nan, math.nan)
    counts = subject_counts(per_slice, min_pixels)
    for name in names("pooled"):
        out[name] = pooled_ci(counts, name, seed=seed)
    for m in table("cohort"):
        out[m.name] = cohort_ci(per_subject, m.formula, seed=seed)
    return out


def cohort_ci(per_subject: pd.DataFrame, statistic, n_resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of a cohort statistic, resampling whole subjects (rows), by scipy's bootstrap
    as every interval of the report."""
    if len(per_subject) < 2 or math.isnan(statistic(per_subject)):
        return math.nan, math.nan
    rows = per_subject.reset_index(drop=True)
    return _run((np.arange(len(rows)),), lambda i: statistic(rows.iloc[i]), n_resamples, seed)


def paired_ci(a: pd.Series, b: pd.Series, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean paired difference a - b over the subjects both scored. The
    differences are put in the order of their subject ids first (the last level of the index), so the
    interval does not depend on how the subjects happen to be listed (by fold, say)."""
    both = pd.concat([a, b], axis=1).dropna()
    diff = both.iloc[:, 0] - both.iloc[:, 1]
    subjects = diff.index.get_level_values(-1).astype(str)
    return bootstrap_ci(diff.to_numpy(float)[np.argsort(subjects, kind="stable")], seed=seed)


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
    return float(stats.wilcoxon(both.iloc[:, 0], both.iloc[:, 1], **WILCOXON).pvalue)


def against_published(per_subject: pd.DataFrame, value: float, metric: str = "dice_paper") -> pd.DataFrame:
    """Each model's per-subject metric (subjects with hemorrhage) against a published mean, which has no
    spread: the bootstrap CI of the mean and a two-sided one-sample Wilcoxon signed-rank test of
    value_i - published (WILCOXON's method), Holm-adjusted over the models."""
    sick = per_subject[per_subject["has_hemorrhage"].astype(bool)]
    rows = []
    for model, group in sick.groupby("model", sort=False):
        values = group[metric].dropna().to_numpy(float)
        diff = values - value
        p = float(stats.wilcoxon(diff, **WILCOXON).pvalue) if len(values) >= 2 and diff.any() else 1.0
        low, high = bootstrap_ci(values)
        rows.append({"model": model, "subjects": len(values), "mean": values.mean(), "low": low, "high": high, "p": p})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["p_holm"] = holm(frame["p"].tolist())
    side = np.where(frame["mean"] > value, "above", "below")
    frame["verdict"] = [
        s if p < 0.05 else f"not shown to differ ({s}, {abs(m - value):.3f})"
        for s, p, m in zip(side, frame["p_holm"], frame["mean"])
    ]
    return frame


def seed_noise(per_subject: pd.DataFrame, metric: str = "dice_paper") -> pd.DataFrame:
    """Whether each pair's difference exceeds seed noise: per seed, each model's mean over the subjects with
    hemorrhage; the pair's per-seed differences tested against zero by a two-sided paired t-test over the
    seeds (scipy.stats.ttest_rel; n_seeds - 1 degrees of freedom), for the pairs of models that both ran
    several seeds. Empty when fewer than two models did."""
    if "seed" not in per_subject or per_subject["seed"].nunique() < 2:
        return pd.DataFrame()
    sick = per_subject[per_subject["has_hemorrhage"].astype(bool)]
    means = sick.pivot_table(index="seed", columns="model", values=metric, aggfunc="mean")
    seeded = [m for m in dict.fromkeys(per_subject["model"]) if m in means and means[m].notna().sum() > 1]
    rows = []
    for a, b in itertools.combinations(seeded, 2):
        both = means[[a, b]].dropna()
        diff = both[a] - both[b]
        p = float(stats.ttest_rel(both[a], both[b]).pvalue) if len(both) > 1 and diff.std() > 0 else math.nan
        rows.append(
            {
                "pair": f"{a} - {b}",
                "seeds": len(both),
                "mean difference": diff.mean(),
                "seed sd": sd(diff.to_numpy(float)),
                "p": p,
            }
        )
    return pd.DataFrame(rows)
