"""The metrics Metrics Reloaded pairs with Dice: NSD, volume agreement, lesion-wise detection, empty cases.

Surface distances are checked against MONAI's implementations; everything else against hand counts.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from ichbench.evaluation.cohort import icc_a1, lesion_f1, lesion_precision, lesion_sensitivity, volume_icc
from ichbench.evaluation.metrics import slice_counts
from ichbench.evaluation.scoring import subject_scores
from ichbench.evaluation.summary import summarize
from ichbench.evaluation.surface import hd95, lesion_counts, nsd


def _cases() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    cases = []
    t, p = np.zeros((6, 40, 40), bool), np.zeros((6, 40, 40), bool)
    t[1:4, 10:25, 12:30], p[2:5, 13:27, 10:26] = True, True  # overlapping boxes
    cases.append((p, t))
    for _ in range(3):  # scattered blobs, some on the volume's faces
        blobs = [ndimage.binary_dilation(rng.random((6, 40, 40)) > 0.995, iterations=2) for _ in range(2)]
        cases.append((blobs[0], blobs[1]))
    return cases


@pytest.mark.parametrize("spacing", [None, (5.0, 0.5, 0.5)])
def test_nsd_and_hd95_equal_monai(spacing) -> None:
    torch = pytest.importorskip("torch")
    metrics = pytest.importorskip("monai.metrics")
    for pred, truth in _cases():
        p, t = (torch.from_numpy(a[None, None].astype(np.float32)) for a in (pred, truth))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # MONAI's own deprecation notes
            tolerance = 2.0 if spacing else 5.0  # ichbench's: 2 mm with a spacing, 5 voxels without
            theirs = metrics.compute_surface_dice(p, t, [tolerance], include_background=True, spacing=spacing)
            hd = metrics.compute_hausdorff_distance(p, t, include_background=True, percentile=95)
        assert nsd(pred, truth, spacing) == pytest.approx(theirs.item(), abs=1e-6)  # MONAI returns float32
        if spacing is None:  # ichbench's HD95 is in voxels
            assert hd95(pred, truth) == pytest.approx(hd.item(), abs=1e-6)


def test_nsd_by_hand() -> None:
    truth = np.zeros((1, 12, 12), bool)
    truth[0, 2:6, 2:6] = True  # a 4 x 4 square: all 16 pixels are surface in a one-slice volume
    assert nsd(truth, truth) == 1.0 and nsd(np.zeros_like(truth), truth) == 0.0
    far = np.zeros_like(truth)
    far[0, 2:6, 8:12] = True  # the same square 6 columns over
    # Each surface pixel's nearest one of the other square is 3 to 6 columns away: within 5, columns at
    # 3, 4 and 5 (x = 3, 4, 5 of 2..5 to 8: 5, 4, 3 away; x = 2 is 6 away): 12 of 16 on each side.
    assert nsd(far, truth) == pytest.approx(24 / 32)
    assert math.isnan(nsd(np.zeros_like(truth), np.zeros_like(truth)))


def test_lesions_volumes_and_empty_cases_by_hand() -> None:
    truth = np.zeros((3, 10, 10), np.uint8)
    truth[0, 1:3, 1:3] = 1  # lesion A: 4 voxels
    truth[2, 6:9, 6:9] = 1  # lesion B: 9 voxels, missed
    pred = np.zeros_like(truth)
    pred[0, 2:4, 2:4] = 1  # overlaps A by one voxel
    pred[1, 7, 0] = 1  # a false component
    assert lesion_counts(pred, truth) == {
        "lesions_true": 2,
        "lesions_found": 1,
        "lesions_pred": 2,
        "lesions_pred_hit": 1,
    }
    scores = subject_scores(pred, truth, slice_counts(pred, truth), spacing=(2.0, 0.5, 0.5))
    assert (scores["pred_voxels"], scores["true_voxels"]) == (5.0, 13.0)
    assert scores["volume_error_rel"] == pytest.approx(8 / 13)
    assert scores["volume_error_ml"] == pytest.approx(8 * 2.0 * 0.5 * 0.5 / 1000)  # 8 voxels of 0.5 uL
    empty = subject_scores(pred, np.zeros_like(truth), slice_counts(pred, np.zeros_like(truth)))
    assert not empty["has_hemorrhage"] and empty["fp_volume_empty"] == 5.0 and math.isnan(empty["nsd"])
    assert empty["lesions_pred"] == 2 and empty["lesions_pred_hit"] == 0


def test_icc_by_hand() -> None:
    # Two raters, three subjects: (1, 2), (3, 3), (5, 4). Grand mean 3; subject means 1.5, 3, 4.5;
    # rater means 3, 3. SSR = 2 (2.25 + 0 + 2.25) = 9, SSC = 0, SST = 4 + 1 + 0 + 0 + 4 + 1 = 10, SSE = 1.
    # MSR = 4.5, MSC = 0, MSE = 0.5: ICC(A,1) = (4.5 - 0.5) / (4.5 + 0.5 + 2 (0 - 0.5) / 3) = 4 / (14 / 3).
    assert icc_a1(np.array([[1, 2], [3, 3], [5, 4]])) == pytest.approx(6 / 7)
    assert icc_a1(np.array([[1, 1], [2, 2], [7, 7]])) == pytest.approx(1.0)
    assert math.isnan(icc_a1(np.array([[1, 2]])))


def test_cohort_metrics_and_the_summary_by_hand() -> None:
    rows = pd.DataFrame(
        [  # fold, subject, hemorrhage, volumes, lesions true / found / pred / hit, the empty metric
            (0, "a", True, 10.0, 12.0, 2, 1, 2, 1, 10.0),
            (0, "b", False, 3.0, 0.0, 0, 0, 1, 0, 3.0),
            (1, "c", True, 20.0, 18.0, 1, 1, 1, 1, 20.0),
            (1, "d", False, 0.0, 0.0, 0, 0, 0, 0, 0.0),
        ],
        columns=["fold", "subject", "has_hemorrhage", "pred_voxels", "true_voxels", "lesions_true",
                 "lesions_found", "lesions_pred", "lesions_pred_hit", "fp_volume_empty"],
    )  # fmt: skip
    assert lesion_sensitivity(rows) == pytest.approx(2 / 3) and lesion_precision(rows) == pytest.approx(2 / 4)
    assert lesion_f1(rows) == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert volume_icc(rows) == pytest.approx(icc_a1(np.array([[10.0, 12.0], [20.0, 18.0]])))
    nothing = rows.assign(lesions_pred=0, lesions_pred_hit=0, lesions_found=0)
    assert lesion_f1(nothing) == 0.0  # nothing predicted: every lesion missed
    per_slice = pd.DataFrame(
        [{"fold": f, "subject": s, "tp": 1, "fp": 0, "fn": 0, "tn": 1, "pred_pixels": 1, "truth_pixels": 1}
         for f, s in ((0, "a"), (0, "b"), (1, "c"), (1, "d"))]
    )  # fmt: skip
    subject = rows.assign(**{k: 0.5 for k in ("dice_paper", "jaccard_paper", "dice_3d", "hd95", "nsd")})
    out = summarize(per_slice, subject.assign(volume_error_rel=0.1, volume_error_ml=math.nan), 400)
    assert out["fp_volume_empty"] == 1.5 and out["fp_volume_empty_std"] == 1.5  # over b and d only
    assert out["lesion_sensitivity"] == pytest.approx(2 / 3)
    assert out["lesion_sensitivity_std"] == pytest.approx(0.25)  # folds: 1/2 and 1/1
