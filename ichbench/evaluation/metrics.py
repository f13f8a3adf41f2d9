"""The metric table: every metric ichbench reports, each defined once (docs/metrics.md).

Pixel counts per slice are the raw material; everything else is derived from them. A metric is
either a **subject** metric (one value per test subject with hemorrhage, then mean and std over those
subjects) or a **pooled** metric (one value from count sums: over all test slices for the row, over
each fold's slices for its std, over resampled subjects for its bootstrap CI). The run summary, the
leaderboard columns and page, the report, the CLI table and `ichbench leaderboard verify` all read
`TABLE`; adding a `Metric` there is all a new metric needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

ORIGINAL_TRUTH_SCALE = 255  # the original code's masks were 0/255, its predictions 0/1
# Columns summed per (fold, subject) for pooled metrics: pixel counts, slice detection by one rule for
# prediction and truth (d_), and by the original code's rule (o_).
COUNT_COLUMNS = ("tp", "fp", "fn", "d_tp", "d_fp", "d_fn", "d_tn", "o_tp", "o_fp", "o_fn", "o_tn")

Counts = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Metric:
    """One metric: its level, formula, direction and how it is shown.

    `formula` takes, for a subject metric, one subject's per-slice counts (arrays tp, fp, fn, tn,
    pred_pixels, truth_pixels) and returns a float; None means it needs the masks (hd95, computed in
    `subject_scores`). For a pooled metric it takes sums of COUNT_COLUMNS (arrays of any shape, so a
    bootstrap can evaluate every resample at once) and returns an array of that shape."""

    name: str
    level: str  # "subject" or "pooled"
    label: str  # the short column heading
    higher_is_better: bool
    formula: Callable | None
    digits: int = 3
    group: str = "headline"  # "headline", or "original" (the original code's detection rule)
    key: bool = False  # one of the few columns a narrow table shows
    doc: str = ""


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b element-wise, NaN where b is 0."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.divide(a, b, out=np.full(np.broadcast(a, b).shape, np.nan), where=b > 0)


def dice(tp: float, fp: float, fn: float) -> float:
    """2TP / (2TP + FP + FN); NaN when both masks are empty."""
    denom = 2 * tp + fp + fn
    return 2 * tp / denom if denom else math.nan


def jaccard(tp: float, fp: float, fn: float) -> float:
    """TP / (TP + FP + FN); NaN when both masks are empty."""
    denom = tp + fp + fn
    return tp / denom if denom else math.nan


def _per_positive_slice(score: Callable[[float, float, float], float]) -> Callable[[Counts], float]:
    """The paper's per-subject score: `score` per slice with non-empty truth, averaged (NaN without any)."""

    def formula(c: Counts) -> float:
        rows = np.flatnonzero(np.asarray(c["truth_pixels"]) > 0)
        values = [score(c["tp"][i], c["fp"][i], c["fn"][i]) for i in rows]
        return float(np.mean(values)) if values else math.nan

    return formula


def _volume_dice(c: Counts) -> float:
    tp, fp, fn = (float(np.asarray(c[k]).sum()) for k in ("tp", "fp", "fn"))
    return dice(tp, fp, fn) if tp + fn > 0 else math.nan


def _detection(prefix: str) -> dict[str, Callable[[Counts], np.ndarray]]:
    """Slice-detection ratios over the slice counts with this prefix (d_ or o_)."""

    def get(s: Counts, k: str) -> np.ndarray:
        return np.asarray(s[prefix + k], float)

    return {
        "sensitivity": lambda s: _ratio(get(s, "tp"), get(s, "tp") + get(s, "fn")),
        "specificity": lambda s: _ratio(get(s, "tn"), get(s, "tn") + get(s, "fp")),
        "precision": lambda s: _ratio(get(s, "tp"), get(s, "tp") + get(s, "fp")),
        "accuracy": lambda s: _ratio(get(s, "tp") + get(s, "tn"), sum(get(s, k) for k in ("tp", "fp", "fn", "tn"))),
        "f1": lambda s: _ratio(2 * get(s, "tp"), 2 * get(s, "tp") + get(s, "fp") + get(s, "fn")),
    }


def dice_array(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """`dice` element-wise over count arrays (per slice, say); NaN where both masks are empty."""
    tp, fp, fn = (np.asarray(v, float) for v in (tp, fp, fn))
    return _ratio(2 * tp, 2 * tp + fp + fn)


def detected(pixels: np.ndarray, min_pixels: int) -> np.ndarray:
    """The slice-detection rule: a slice is positive with more than `min_pixels` pixels."""
    return np.asarray(pixels) > min_pixels


def _pixel_dice(s: Counts) -> np.ndarray:
    return dice_array(s["tp"], s["fp"], s["fn"])


_ONE, _ORIG = _detection("d_"), _detection("o_")
_SLICE = "a slice is positive with more than `detection_pixels` pixels"
TABLE: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("dice_paper", "subject", "Dice", True, _per_positive_slice(dice), key=True,
               doc="the paper's Dice: per slice with hemorrhage (an empty prediction scores 0), mean per subject"),
        Metric("jaccard_paper", "subject", "Jaccard", True, _per_positive_slice(jaccard),
               doc="the paper's Jaccard, averaged as `dice_paper`"),
        Metric("dice_3d", "subject", "Dice 3-D", True, _volume_dice, key=True,
               doc="Dice of the subject's whole volume"),
        Metric("hd95", "subject", "HD95 px", False, None, digits=1, key=True,
               doc="95th-percentile symmetric Hausdorff distance of the volume, in voxels; a miss scores the diagonal"),
        Metric("dice_global", "pooled", "Dice global", True, _pixel_dice, doc="one Dice over all test pixels"),
        *(
            Metric(k, "pooled", k[:4] + "." if k != "f1" else "F1", True, f, key=k in ("sensitivity", "specificity"),
                   doc=f"slice detection ({_SLICE}, the same rule for prediction and truth)")
            for k, f in _ONE.items()
        ),
        *(
            Metric(f"{k}_original", "pooled", f"{k[:4]}. (orig.)", True, f, group="original",
                   doc="slice detection by the original code's rule (truth positive from 2 pixels)")
            for k, f in _ORIG.items()
            if k != "f1"
        ),
    )
}  # fmt: skip


def table(level: str | None = None, group: str | None = None) -> list[Metric]:
    """The metrics in display order, optionally of one level or group."""
    return [m for m in TABLE.values() if (level is None or m.level == level) and (group is None or m.group == group)]


def names(level: str | None = None) -> list[str]:
    """Metric names in display order."""
    return [m.name for m in table(level)]


def value_columns() -> list[str]:
    """Every metric with its std beside it: the columns of summary.csv and the leaderboard."""
    return [c for m in table() for c in (m.name, f"{m.name}_std")]


def slice_counts(pred: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    """Per-slice tp, fp, fn, tn and pixel counts of (S, H, W) binary stacks."""
    p = np.asarray(pred, bool).reshape(len(pred), -1)
    t = np.asarray(truth, bool).reshape(len(truth), -1)
    tp, fp, fn = (p & t).sum(1), (p & ~t).sum(1), (~p & t).sum(1)
    return _counts(tp, fp, fn, p.shape[1] - tp - fp - fn)


def counts_at(counts: np.ndarray, j: int) -> dict[str, np.ndarray]:
    """slice_counts' dict from the (S, T, 4) TP/FP/FN/TN array of ichbench.post.threshold_counts, threshold j."""
    return _counts(*(counts[:, j, k] for k in range(4)))


def _counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> dict[str, np.ndarray]:
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "pred_pixels": tp + fp, "truth_pixels": tp + fn}


def paper_scores(counts: Counts) -> tuple[float, float]:
    """The CT-ICH paper's per-subject Dice and Jaccard (validation selects epochs by them)."""
    return TABLE["dice_paper"].formula(counts), TABLE["jaccard_paper"].formula(counts)


def hd95(pred: np.ndarray, truth: np.ndarray) -> float:
    """95th-percentile symmetric Hausdorff distance in voxels between two binary volumes.

    Both empty: 0. Truth without prediction (or the reverse): the volume's diagonal, the largest
    distance possible, so a missed lesion is penalised rather than dropped.
    """
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    if not pred.any() and not truth.any():
        return 0.0
    if not pred.any() or not truth.any():
        return float(np.sqrt(sum(n * n for n in pred.shape)))
    box = _bounding_box(pred | truth)
    p, t = _surface(pred[box]), _surface(truth[box])
    to_truth = ndimage.distance_transform_edt(~t)[p]
    to_pred = ndimage.distance_transform_edt(~p)[t]
    return float(max(np.percentile(to_truth, 95), np.percentile(to_pred, 95)))


def _bounding_box(mask: np.ndarray) -> tuple[slice, ...]:
    idx = np.nonzero(mask)
    return tuple(slice(max(int(i.min()) - 1, 0), int(i.max()) + 2) for i in idx)


def _surface(mask: np.ndarray) -> np.ndarray:
    # Outside the volume counts as background, so voxels on its faces are surface too.
    eroded = ndimage.binary_erosion(mask, border_value=0)
    return mask & ~eroded


def count_scores(counts: Counts) -> dict[str, float]:
    """The per-subject metrics that follow from its per-slice counts alone (all but the mask-based ones)."""
    scores: dict[str, float] = {"has_hemorrhage": bool(np.asarray(counts["truth_pixels"]).sum() > 0)}
    scores.update({m.name: m.formula(counts) for m in table("subject") if m.formula is not None})
    return scores


def subject_scores(pred: np.ndarray, truth: np.ndarray, counts: Counts) -> dict[str, float]:
    """One subject's metrics from its (S, H, W) prediction and truth and their per-slice counts."""
    scores = count_scores(counts)
    return {**scores, "hd95": hd95(pred, truth) if scores["has_hemorrhage"] else math.nan}


def _with_detection(per_slice: pd.DataFrame, min_pixels: int) -> pd.DataFrame:
    """Per-slice rows with the slice-detection indicators of COUNT_COLUMNS added."""
    p = detected(per_slice["pred_pixels"], min_pixels)
    t = detected(per_slice["truth_pixels"], min_pixels)
    o = detected(per_slice["truth_pixels"] * ORIGINAL_TRUTH_SCALE, min_pixels)
    return per_slice.assign(
        d_tp=p & t, d_fp=p & ~t, d_fn=~p & t, d_tn=~p & ~t, o_tp=p & o, o_fp=p & ~o, o_fn=~p & o, o_tn=~p & ~o
    )


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


def summarize(per_slice: pd.DataFrame, per_subject: pd.DataFrame, min_pixels: int) -> dict[str, float]:
    """Mean and std of every metric: subject metrics over subjects with hemorrhage, pooled ones over
    all slices (their std is over folds). Standard deviations are population ones (ddof 0, numpy's
    default), as the paper reports them."""
    out: dict[str, float] = {}
    sick = per_subject[per_subject["has_hemorrhage"].astype(bool)]
    for name in names("subject"):
        values = sick[name].dropna().to_numpy(float)
        out[name] = float(values.mean()) if len(values) else math.nan
        out[f"{name}_std"] = float(values.std(ddof=0)) if len(values) > 1 else math.nan
    overall = pooled(per_slice, min_pixels)
    by_fold = [pooled(group, min_pixels) for _, group in per_slice.groupby("fold")]
    for name in names("pooled"):
        out[name] = overall[name]
        values = np.array([f[name] for f in by_fold], float)
        values = values[~np.isnan(values)]
        out[f"{name}_std"] = float(values.std(ddof=0)) if len(values) > 1 else math.nan
    return out


def summarize_results(results: list[dict], min_pixels: int) -> dict[str, float]:
    """`summarize` over the finished jobs (folds) of one model, from their per-slice and per-subject rows."""
    per_slice = pd.DataFrame([row for r in results for row in r["per_slice"]])
    per_subject = pd.DataFrame([row for r in results for row in r["per_subject"]])
    return summarize(per_slice, per_subject, min_pixels)


def fmt(metric: Metric, value: float) -> str:
    """A value at the metric's precision; '-' for NaN or missing."""
    if value is None or pd.isna(value):
        return "-"
    return f"{float(value):.{metric.digits}f}"
