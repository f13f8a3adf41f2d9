"""The exact metric definitions (see the README's "Metrics" section).

Pixel counts per slice are the raw material; everything else is derived from them:
- dice_paper / jaccard_paper: per slice over slices whose ground truth is non-empty (an empty
  prediction scores 0), averaged per subject, then mean and std over subjects with hemorrhage;
- dice_global: one Dice over all test pixels (pooled);
- dice_3d: per-subject volume Dice, mean and std over subjects with hemorrhage;
- hd95: per-subject volume 95th-percentile Hausdorff distance in pixels (voxel units);
- slice detection (sensitivity, specificity, precision, accuracy, f1): a slice is positive when it
  has more than `detection_pixels` pixels, applied alike to prediction and ground truth.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import ndimage

SUBJECT_METRICS = ("dice_paper", "jaccard_paper", "dice_3d", "hd95")
ORIGINAL_DETECTION = ("sensitivity", "specificity", "precision", "accuracy")
ORIGINAL_TRUTH_SCALE = 255  # the original code's masks were 0/255, its predictions 0/1
POOLED_METRICS = ("dice_global", "sensitivity", "specificity", "precision", "accuracy", "f1") + tuple(
    f"{k}_original" for k in ORIGINAL_DETECTION
)
METRICS = SUBJECT_METRICS + POOLED_METRICS


def slice_counts(pred: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    """Per-slice tp, fp, fn, tn and pixel counts of (S, H, W) binary stacks."""
    p = np.asarray(pred, bool).reshape(len(pred), -1)
    t = np.asarray(truth, bool).reshape(len(truth), -1)
    tp = (p & t).sum(1)
    fp = (p & ~t).sum(1)
    fn = (~p & t).sum(1)
    tn = p.shape[1] - tp - fp - fn
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "pred_pixels": tp + fp, "truth_pixels": tp + fn}


def counts_at(counts: np.ndarray, j: int) -> dict[str, np.ndarray]:
    """slice_counts' dict from the (S, T, 4) TP/FP/FN/TN array of ichbench.post.threshold_counts, threshold j."""
    tp, fp, fn, tn = (counts[:, j, k] for k in range(4))
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "pred_pixels": tp + fp, "truth_pixels": tp + fn}


def dice(tp: float, fp: float, fn: float) -> float:
    """2TP / (2TP + FP + FN); NaN when both masks are empty."""
    denom = 2 * tp + fp + fn
    return 2 * tp / denom if denom else math.nan


def jaccard(tp: float, fp: float, fn: float) -> float:
    """TP / (TP + FP + FN); NaN when both masks are empty."""
    denom = tp + fp + fn
    return tp / denom if denom else math.nan


def paper_scores(counts: dict[str, np.ndarray]) -> tuple[float, float]:
    """The CT-ICH paper's per-subject Dice and Jaccard: mean over slices with non-empty truth."""
    rows = np.flatnonzero(counts["truth_pixels"] > 0)
    if not len(rows):
        return math.nan, math.nan
    d = [dice(counts["tp"][i], counts["fp"][i], counts["fn"][i]) for i in rows]
    j = [jaccard(counts["tp"][i], counts["fp"][i], counts["fn"][i]) for i in rows]
    return float(np.mean(d)), float(np.mean(j))


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


def count_scores(counts: dict[str, np.ndarray]) -> dict[str, float]:
    """The per-subject metrics that follow from its per-slice counts alone (all but hd95)."""
    has = bool(np.asarray(counts["truth_pixels"]).sum() > 0)
    d_paper, j_paper = paper_scores(counts)
    tp, fp, fn = (float(np.asarray(counts[k]).sum()) for k in ("tp", "fp", "fn"))
    return {
        "has_hemorrhage": has,
        "dice_paper": d_paper,
        "jaccard_paper": j_paper,
        "dice_3d": dice(tp, fp, fn) if has else math.nan,
    }


def subject_scores(pred: np.ndarray, truth: np.ndarray, counts: dict[str, np.ndarray]) -> dict[str, float]:
    """One subject's metrics from its (S, H, W) prediction and truth and their per-slice counts."""
    scores = count_scores(counts)
    return {**scores, "hd95": hd95(pred, truth) if scores["has_hemorrhage"] else math.nan}


def detection(per_slice: pd.DataFrame, min_pixels: int, truth_scale: int = 1) -> dict[str, float]:
    """Slice-level detection: a slice is positive with more than `min_pixels` pixels. `truth_scale` 255
    reproduces the original CT-ICH code, whose 0/255 ground truth met the same count from 2 pixels."""
    p = per_slice["pred_pixels"].to_numpy() > min_pixels
    t = per_slice["truth_pixels"].to_numpy() * truth_scale > min_pixels
    tp, fp, fn, tn = int((p & t).sum()), int((p & ~t).sum()), int((~p & t).sum()), int((~p & ~t).sum())
    ratio = lambda a, b: a / b if b else math.nan  # noqa: E731
    return {
        "sensitivity": ratio(tp, tp + fn),
        "specificity": ratio(tn, tn + fp),
        "precision": ratio(tp, tp + fp),
        "accuracy": ratio(tp + tn, tp + tn + fp + fn),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
    }


def pooled(per_slice: pd.DataFrame, min_pixels: int) -> dict[str, float]:
    """dice_global, the detection metrics, and the detection metrics by the original code's rule."""
    sums = per_slice[["tp", "fp", "fn"]].sum()
    original = detection(per_slice, min_pixels, truth_scale=ORIGINAL_TRUTH_SCALE)
    return {
        "dice_global": dice(sums.tp, sums.fp, sums.fn),
        **detection(per_slice, min_pixels),
        **{f"{k}_original": original[k] for k in ORIGINAL_DETECTION},
    }


def summarize(per_slice: pd.DataFrame, per_subject: pd.DataFrame, min_pixels: int) -> dict[str, float]:
    """Mean and std of every metric: subject metrics over subjects with hemorrhage, pooled ones over
    all slices (their std is over folds). Standard deviations are population ones (ddof 0, numpy's
    default), as the paper reports them."""
    out: dict[str, float] = {}
    sick = per_subject[per_subject["has_hemorrhage"].astype(bool)]
    for name in SUBJECT_METRICS:
        values = sick[name].dropna().to_numpy(float)
        out[name] = float(values.mean()) if len(values) else math.nan
        out[f"{name}_std"] = float(values.std(ddof=0)) if len(values) > 1 else math.nan
    overall = pooled(per_slice, min_pixels)
    by_fold = [pooled(group, min_pixels) for _, group in per_slice.groupby("fold")]
    for name in POOLED_METRICS:
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
