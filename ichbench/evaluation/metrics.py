"""The metric table: every metric ichbench reports, each defined once (docs/metrics.md).

Pixel counts per slice are the raw material, with a few mask-based values per subject (surface
distances, lesion counts: evaluation.surface). A metric is a **subject** metric (one value per test
subject with hemorrhage, then mean and std over those subjects), an **empty** metric (the same over
the subjects without hemorrhage), a **pooled** metric (one value from count sums: over all test
slices for the row, over each fold's slices for its std, over resampled subjects for its bootstrap
CI) or a **cohort** metric (one statistic of the per-subject rows, evaluation.cohort; std over
folds, CI over resampled subjects). The run summary, the
leaderboard columns and page, the report, the CLI table and `ichbench leaderboard verify` all read
`TABLE`; adding a `Metric` there is all a new metric needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ichbench.evaluation import cohort

ORIGINAL_TRUTH_SCALE = 255  # the original code's masks were 0/255, its predictions 0/1
# Columns summed per (fold, subject) for pooled metrics: pixel counts, slice detection by one rule for
# prediction and truth (d_), and by the original code's rule (o_).
# s_dice and s_pos: each slice with hemorrhage's own Dice (0 elsewhere) and 1 (0 elsewhere), whose sums give
# the per-positive-slice mean Dice.
COUNT_COLUMNS = ("tp", "fp", "fn", "d_tp", "d_fp", "d_fn", "d_tn", "o_tp", "o_fp", "o_fn", "o_tn", "s_dice", "s_pos")

Counts = Mapping[str, np.ndarray]
# Every standard deviation ichbench reports (over subjects, folds or seeds) is a population one, as the
# paper's are: numpy's default, ddof 0.
SD_DDOF = 0


def sd(values: np.ndarray) -> float:
    """The standard deviation of the non-NaN values (ddof SD_DDOF); NaN for fewer than two."""
    values = np.asarray(values, float)
    values = values[~np.isnan(values)]
    return float(values.std(ddof=SD_DDOF)) if len(values) > 1 else math.nan


@dataclass(frozen=True)
class Metric:
    """One metric: its level, formula, direction and how it is shown.

    `formula` takes, for a subject metric, one subject's per-slice counts (arrays tp, fp, fn, tn,
    pred_pixels, truth_pixels) and returns a float; None means it needs the masks or the spacing (computed
    in `evaluation.scoring.subject_scores`). An empty metric is a subject metric of the subjects without
    hemorrhage. For a pooled metric it takes sums of COUNT_COLUMNS (arrays of any shape, so a bootstrap can
    evaluate every resample at once) and returns an array of that shape. For a cohort metric it takes the
    per-subject rows."""

    name: str
    level: str  # "subject", "empty", "pooled" or "cohort"
    label: str  # the short column heading
    higher_is_better: bool
    formula: Callable | None
    digits: int = 3
    # "headline"; "reloaded" (the Metrics Reloaded additions: shown beside the headline where there is room);
    # or "original" (the original code's detection rule)
    group: str = "headline"
    key: bool = False  # one of the few columns a narrow table shows
    doc: str = ""
    later: bool = False  # added after rows were written: an empty cell in an older row is not a difference


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


def original_truth_pixels(min_pixels: int) -> int:
    """The fewest true pixels that made a slice positive under the original code's rule (its 0/255 truth
    against `min_pixels`): 2 for the paper's 400."""
    return min_pixels // ORIGINAL_TRUTH_SCALE + 1


def _pixel_dice(s: Counts) -> np.ndarray:
    return dice_array(s["tp"], s["fp"], s["fn"])


def _volume_error(c: Counts) -> float:
    truth = float(np.asarray(c["truth_pixels"]).sum())
    return abs(float(np.asarray(c["pred_pixels"]).sum()) - truth) / truth if truth else math.nan


def _predicted_voxels(c: Counts) -> float:
    return float(np.asarray(c["pred_pixels"]).sum())


def _reloaded(*args, **kwargs) -> Metric:
    """A Metrics Reloaded addition: its own column group, and added after rows were written."""
    return Metric(*args, group="reloaded", later=True, **kwargs)


PER_SUBJECT = ("subject", "empty")  # levels with one value per subject, kept in the per-subject rows
_ONE, _ORIG = _detection("d_"), _detection("o_")
_SLICE = "a slice is positive with more than `detection_pixels` pixels"
TABLE: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("dice_paper", "subject", "Dice", True, _per_positive_slice(dice), key=True,
               doc="the paper's Dice: per slice with hemorrhage (an empty prediction scores 0), mean per subject"),
        Metric("jaccard_paper", "subject", "Jaccard", True, _per_positive_slice(jaccard),
               doc="the paper's Jaccard, averaged as `dice_paper`"),
        Metric("dice_3d", "subject", "Dice 3-D", True, _volume_dice,
               doc="Dice of the subject's whole volume"),
        Metric("hd95", "subject", "HD95 px", False, None, digits=1,
               doc="95th-percentile symmetric Hausdorff distance of the volume, in voxels; a miss scores the diagonal"),
        _reloaded("nsd", "subject", "NSD", True, None,
                  doc="normalized surface distance of the volume: the share of both surfaces within 2 mm of the other "
                      "(5 voxels where the spacing is unknown); a miss scores 0"),
        _reloaded("volume_error_rel", "subject", "vol. err.", False, _volume_error,
                  doc="|predicted - true volume| / true volume"),
        _reloaded("volume_error_ml", "subject", "vol. err. mL", False, None, digits=2,
                  doc="|predicted - true volume| in mL (only where the voxel spacing is known)"),
        _reloaded("fp_volume_empty", "empty", "FP vox (empty)", False, _predicted_voxels, digits=0, key=True,
                  doc="predicted voxels on a test subject without hemorrhage (all false positives), mean over them"),
        _reloaded("volume_icc", "cohort", "vol. ICC", True, cohort.volume_icc,
                  doc="ICC(A,1) of predicted against true volume over the subjects with hemorrhage"),
        _reloaded("lesion_sensitivity", "cohort", "lesion sens.", True, cohort.lesion_sensitivity,
                  doc="true lesions (3-D connected components) touched by any predicted voxel, over all true lesions"),
        _reloaded("lesion_precision", "cohort", "lesion prec.", True, cohort.lesion_precision,
                  doc="predicted components overlapping any true voxel, over all predicted components"),
        _reloaded("lesion_f1", "cohort", "lesion F1", True, cohort.lesion_f1, key=True,
                  doc="the harmonic mean of lesion sensitivity and precision"),
        Metric("dice_global", "pooled", "Dice global", True, _pixel_dice, doc="one Dice over all test pixels"),
        Metric("dice_slice", "pooled", "Dice/slice", True, lambda s: _ratio(s["s_dice"], s["s_pos"]), later=True,
               doc="HGI-SAM's Dice: each slice with hemorrhage's own Dice, averaged over all such test slices"),
        *(
            Metric(k, "pooled", k[:4] + "." if k != "f1" else "F1", True, f,
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
    return counts_of(tp, fp, fn, p.shape[1] - tp - fp - fn)


def counts_at(counts: np.ndarray, j: int) -> dict[str, np.ndarray]:
    """slice_counts' dict from the (S, T, 4) TP/FP/FN/TN array of ichbench.post.threshold_counts, threshold j."""
    return counts_of(*(counts[:, j, k] for k in range(4)))


def counts_of(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> dict[str, np.ndarray]:
    """Per-slice count arrays with the pixel totals derived from them, as formulas take them."""
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "pred_pixels": tp + fp, "truth_pixels": tp + fn}


def paper_scores(counts: Counts) -> tuple[float, float]:
    """The CT-ICH paper's per-subject Dice and Jaccard (validation selects epochs by them)."""
    return TABLE["dice_paper"].formula(counts), TABLE["jaccard_paper"].formula(counts)


def count_scores(counts: Counts) -> dict[str, float]:
    """The per-subject values that follow from its per-slice counts alone (all but the mask-based ones):
    whether it has hemorrhage, its predicted and true volumes in voxels, its subject and empty metrics."""
    truth = float(np.asarray(counts["truth_pixels"]).sum())
    scores: dict[str, float] = {"has_hemorrhage": bool(truth > 0)}
    scores |= {"pred_voxels": float(np.asarray(counts["pred_pixels"]).sum()), "true_voxels": truth}
    scores.update({m.name: m.formula(counts) for m in table() if m.level in PER_SUBJECT and m.formula is not None})
    return scores


ALL_FLAGGED = "†"
ALL_FLAGGED_NOTE = (
    "† flags every slice as hemorrhage (sensitivity 1, specificity 0): its slice-detection columns measure "
    "the prevalence of hemorrhage slices, not detection"
)


def all_flagged(metric: Metric, row: Mapping[str, object]) -> str:
    """ALL_FLAGGED for a slice-detection column of a row whose model flags every slice, else ''."""
    detection = metric.level == "pooled" and metric.name != "dice_global"
    try:
        flags = float(row.get("sensitivity")) == 1.0 and float(row.get("specificity")) == 0.0
    except (TypeError, ValueError):
        return ""
    return ALL_FLAGGED if detection and flags and metric.group == "headline" else ""


def fmt(metric: Metric, value: float) -> str:
    """A value at the metric's precision; '-' for NaN or missing."""
    if value is None or pd.isna(value):
        return "-"
    return f"{float(value):.{metric.digits}f}"
