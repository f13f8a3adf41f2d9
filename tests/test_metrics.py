"""Metric definitions on hand-made cases, computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ichbench.evaluation.metrics import dice, jaccard, paper_scores, slice_counts
from ichbench.evaluation.scoring import subject_scores
from ichbench.evaluation.summary import pooled, summarize
from ichbench.evaluation.surface import hd95


def _stack(*slices: list[list[int]]) -> np.ndarray:
    return np.array(slices, np.uint8)


def test_slice_counts_by_hand() -> None:
    truth = _stack([[1, 1, 0, 0], [0, 0, 0, 0]], [[0, 0, 0, 0], [0, 0, 0, 0]])
    pred = _stack([[1, 0, 1, 0], [0, 0, 0, 0]], [[0, 1, 0, 0], [0, 0, 0, 0]])
    c = slice_counts(pred, truth)
    assert c["tp"].tolist() == [1, 0] and c["fp"].tolist() == [1, 1] and c["fn"].tolist() == [1, 0]
    assert c["tn"].tolist() == [5, 7] and c["truth_pixels"].tolist() == [2, 0] and c["pred_pixels"].tolist() == [2, 1]


def test_dice_and_jaccard_by_hand() -> None:
    assert dice(1, 1, 1) == pytest.approx(0.5) and jaccard(1, 1, 1) == pytest.approx(1 / 3)
    assert dice(3, 0, 1) == pytest.approx(6 / 7) and jaccard(3, 0, 1) == pytest.approx(0.75)
    assert math.isnan(dice(0, 0, 0)) and math.isnan(jaccard(0, 0, 0))


def test_paper_scores_only_count_slices_with_truth_and_empty_prediction_scores_zero() -> None:
    truth = _stack([[1, 1, 0, 0]], [[1, 0, 0, 0]], [[0, 0, 0, 0]])
    pred = _stack([[1, 1, 0, 0]], [[0, 0, 0, 0]], [[1, 1, 1, 1]])  # perfect, missed, false positive
    d, j = paper_scores(slice_counts(pred, truth))
    assert d == pytest.approx((1.0 + 0.0) / 2) and j == pytest.approx(0.5)  # the third slice is not counted
    assert all(math.isnan(v) for v in paper_scores(slice_counts(pred[2:], truth[2:])))


def test_hd95_by_hand_and_empty_cases() -> None:
    truth = np.zeros((1, 1, 12), bool)
    pred = np.zeros((1, 1, 12), bool)
    truth[0, 0, 2] = pred[0, 0, 5] = True  # single voxels three apart
    assert hd95(pred, truth) == pytest.approx(3.0)
    assert hd95(np.zeros((2, 3, 4)), np.zeros((2, 3, 4))) == 0.0
    assert hd95(np.zeros((2, 3, 4)), np.ones((2, 3, 4))) == pytest.approx(math.sqrt(4 + 9 + 16))
    box = np.zeros((1, 20, 20), bool)
    box[0, 5:10, 5:10] = True
    assert hd95(box, box) == 0.0


def test_subject_scores_are_nan_without_hemorrhage() -> None:
    truth = np.zeros((2, 3, 3), np.uint8)
    pred = truth.copy()
    pred[0, 0, 0] = 1
    s = subject_scores(pred, truth, slice_counts(pred, truth))
    assert s["has_hemorrhage"] is False and all(math.isnan(s[k]) for k in ("dice_paper", "dice_3d", "hd95"))


def test_detection_uses_the_same_pixel_rule_for_both() -> None:
    # Slices: (pred pixels, truth pixels) with the rule "more than 2 pixels".
    frame = pd.DataFrame({"pred_pixels": [5, 0, 3, 1, 10], "truth_pixels": [4, 6, 0, 2, 3]})
    frame = frame.assign(fold=0, subject=range(5), tp=0, fp=0, fn=0)
    d = pooled(frame, 2)
    # positive truth: slices 0, 1, 4; positive prediction: slices 0, 2, 4 -> TP 2, FN 1, FP 1, TN 1
    assert d["sensitivity"] == pytest.approx(2 / 3) and d["specificity"] == pytest.approx(1 / 2)
    assert d["precision"] == pytest.approx(2 / 3) and d["accuracy"] == pytest.approx(3 / 5)
    assert d["f1"] == pytest.approx(4 / 6)
    assert math.isnan(pooled(frame.iloc[2:3], 2)["sensitivity"])


def test_summary_pools_pixels_and_averages_subjects() -> None:
    per_slice = pd.DataFrame(
        {
            "fold": [0, 0, 1],
            "tp": [2, 0, 1],
            "fp": [1, 0, 3],
            "fn": [1, 2, 0],
            "pred_pixels": [3, 0, 4],
            "truth_pixels": [3, 2, 1],
        }
    )
    per_subject = pd.DataFrame(
        {
            "has_hemorrhage": [True, True, False],
            "dice_paper": [0.5, 0.25, np.nan],
            "jaccard_paper": [0.4, 0.2, np.nan],
            "dice_3d": [0.6, 0.2, np.nan],
            "hd95": [1.0, 3.0, np.nan],
        }
    )
    s = summarize(per_slice, per_subject, min_pixels=1)
    assert s["dice_global"] == pytest.approx(2 * 3 / (2 * 3 + 4 + 3))
    # Population standard deviations (ddof 0), as the paper reports: |0.5 - 0.375| = 0.125.
    assert s["dice_paper"] == pytest.approx(0.375) and s["dice_paper_std"] == pytest.approx(0.125)
    assert s["hd95"] == pytest.approx(2.0)
    fold0 = pooled(per_slice[per_slice.fold == 0], 1)["dice_global"]
    fold1 = pooled(per_slice[per_slice.fold == 1], 1)["dice_global"]
    assert (fold0, fold1) == (pytest.approx(4 / 8), pytest.approx(2 / 5))
    assert s["dice_global_std"] == pytest.approx(0.05)


def test_detection_by_the_original_rule_by_hand() -> None:
    # Truth pixels 1, 2, 500, 3 and predicted pixels 0, 401, 401, 0, with the 400-pixel rule.
    per_slice = pd.DataFrame(
        {
            "fold": [0] * 4,
            "tp": [0] * 4,
            "fp": [0] * 4,
            "fn": [0] * 4,
            "truth_pixels": [1, 2, 500, 3],
            "pred_pixels": [0, 401, 401, 0],
        }
    )
    p = pooled(per_slice, 400)
    # Symmetric rule: truth positive only at 500; predictions at both 401s -> TP 1, FP 1, FN 0, TN 2.
    assert (p["sensitivity"], p["specificity"], p["precision"], p["accuracy"]) == pytest.approx(
        (1, 2 / 3, 1 / 2, 3 / 4)
    )
    # Original rule: 0/255 truth, so 2+ pixels are positive (2, 500, 3) -> TP 2, FP 0, FN 1, TN 1.
    original = tuple(p[f"{k}_original"] for k in ("sensitivity", "specificity", "precision", "accuracy"))
    assert original == pytest.approx((2 / 3, 1, 1, 3 / 4))


def test_dice_per_positive_slice_by_hand() -> None:
    """HGI-SAM's Dice: every slice with hemorrhage counts once, whatever its subject (pooled, not per subject)."""
    rows = [  # subject, tp, fp, fn (truth = tp + fn, prediction = tp + fp)
        ("a", 3, 1, 0),  # 6 / 7
        ("a", 0, 0, 5),  # a missed slice: 0
        ("a", 0, 9, 0),  # no hemorrhage: not counted, however many false positives
        ("b", 2, 2, 0),  # 4 / 6
    ]
    per_slice = pd.DataFrame(
        [
            {"fold": 0, "subject": s, "tp": tp, "fp": fp, "fn": fn, "pred_pixels": tp + fp, "truth_pixels": tp + fn}
            for s, tp, fp, fn in rows
        ]
    )
    assert pooled(per_slice, 0)["dice_slice"] == pytest.approx((6 / 7 + 0 + 4 / 6) / 3)
