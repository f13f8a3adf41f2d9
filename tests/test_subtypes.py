"""Dice by hemorrhage type (evaluation.subtypes) against hand-computed cases and the metric table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ichbench.data.dataset import SUBTYPES
from ichbench.evaluation.metrics import TABLE
from ichbench.evaluation.subtypes import subtype_scores, subtype_table


def _slice(model: str, subject: str, n: int, tp: int, fp: int, fn: int, *types: str) -> dict:
    row = {"model": model, "subject": subject, "slice": n, "tp": tp, "fp": fp, "fn": fn}
    row |= {"pred_pixels": tp + fp, "truth_pixels": tp + fn}
    return row | {t.lower(): int(t in types) for t in SUBTYPES}


def _frame() -> pd.DataFrame:
    return pd.DataFrame([
        _slice("a", "1", 0, 300, 100, 100, "Subdural"),  # Dice 0.75
        _slice("a", "1", 1, 0, 0, 500, "Subdural", "Epidural"),  # a miss: Dice 0, counts for both types
        _slice("a", "2", 0, 450, 50, 0, "Intraparenchymal"),  # Dice 0.947...
        _slice("a", "2", 1, 0, 900, 0),  # no hemorrhage: no type, no Dice
        _slice("b", "1", 0, 100, 0, 300, "Subdural"),  # Dice 0.4
        _slice("b", "1", 1, 500, 0, 0, "Subdural", "Epidural"),  # Dice 1
    ])  # fmt: skip


def test_subtype_scores_by_hand() -> None:
    scores = subtype_scores(_frame(), ["a", "b"], min_pixels=400).set_index(["model", "subtype"])
    assert scores.loc[("a", "Subdural"), "dice"] == pytest.approx((0.75 + 0.0) / 2)
    assert scores.loc[("a", "Epidural"), "dice"] == 0.0
    assert scores.loc[("a", "Intraparenchymal"), "dice"] == pytest.approx(900 / 950)
    assert np.isnan(scores.loc[("a", "Subarachnoid"), "dice"]) and scores.loc[("a", "Subarachnoid"), "slices"] == 0
    assert scores.loc[("b", "Subdural"), "dice"] == pytest.approx((0.4 + 1.0) / 2)
    assert (scores.loc[("a", "Subdural"), ["slices", "subjects"]] == [2, 1]).all()
    # Detection: only slices with more than 400 true pixels count; a has 500 true px on slice 1 and predicts
    # none there; slice 0 (400 true px) is not positive under the rule.
    assert scores.loc[("a", "Subdural"), "sensitivity"] == 0.0
    assert scores.loc[("a", "Intraparenchymal"), "sensitivity"] == 1.0  # 450 true, 500 predicted


def test_one_type_per_slice_weights_back_to_dice_slice() -> None:
    """Where every positive slice has one type, the slice-weighted mean of the types' Dice is HGI-SAM's."""
    frame = _frame()
    frame = frame[(frame["model"] == "a") & ~((frame["subject"] == "1") & (frame["slice"] == 1))]
    scores = subtype_scores(frame, ["a"], min_pixels=400).dropna(subset=["dice"])
    weighted = (scores["dice"] * scores["slices"]).sum() / scores["slices"].sum()
    positive = frame[frame["truth_pixels"] > 0]
    dice = 2 * positive["tp"] / (2 * positive["tp"] + positive["fp"] + positive["fn"])
    sums = {"s_dice": dice.sum(), "s_pos": float(len(positive))}
    assert weighted == pytest.approx(float(TABLE["dice_slice"].formula(sums)))


def test_seeds_count_a_slice_once() -> None:
    frame = pd.concat([_frame().assign(seed=0), _frame().assign(seed=1)])
    scores = subtype_scores(frame, ["a"], min_pixels=400).set_index("subtype")
    assert scores.loc["Subdural", "slices"] == 2 and scores.loc["Subdural", "dice"] == pytest.approx(0.375)


def test_wide_table_heads_carry_counts() -> None:
    wide = subtype_table(subtype_scores(_frame(), ["b", "a"], min_pixels=400))
    assert list(wide["model"]) == ["b", "a"]
    assert "SDH (2 sl., 1 subj.)" in wide.columns and "IPH (1 sl., 1 subj.)" in wide.columns
    assert wide.set_index("model").loc["b", "SDH (2 sl., 1 subj.)"] == pytest.approx(0.7)


def test_leaderboard_types_rederive_from_the_committed_evidence(cli) -> None:
    """`leaderboard --types` on the committed native test: resunet ladder-6-flip's subdural Dice (its latest
    row's) equals the mean Dice of its evidence's subdural slices with hemorrhage, from the raw counts."""
    import gzip
    import json
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "leaderboards"
    table = pd.read_csv(root / "ctich-1.0.0__test-b9e07fa1.csv")
    shown = table[(table["model"] == "resunet") & (table["protocol"] == "ladder-6-flip")].iloc[-1]  # the latest
    evidence = root / shown["evidence"] / "jobs" / "resunet"
    dice = []
    for fold in sorted(evidence.iterdir()):
        for s in json.loads(gzip.open(fold / "result.json.gz").read())["per_slice"]:
            if s["subdural"] and s["tp"] + s["fn"] > 0:
                dice.append(2 * s["tp"] / (2 * s["tp"] + s["fp"] + s["fn"]))
    shown = cli("leaderboard", "--leaderboard", root, "--types", env={"COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr
    line = next(x for x in shown.stdout.splitlines() if "resunet ladder-6-flip" in x)
    values = [float(v) for v in re.findall(r"\d\.\d{3}", line)]
    assert len(values) == 5 and values[4] == pytest.approx(np.mean(dice), abs=5e-4)


def test_lesions_counted_by_type_by_hand() -> None:
    """A true lesion takes the types of the slices it spans; found when any predicted voxel touches it."""
    from ichbench.evaluation.surface import lesion_counts

    truth = np.zeros((4, 8, 8), bool)
    truth[0:2, 1:3, 1:3] = True  # lesion A: slices 0-1 (epidural on 0, subdural on 1)
    truth[3, 5:7, 5:7] = True  # lesion B: slice 3 (intraparenchymal)
    pred = np.zeros_like(truth)
    pred[1, 2, 2] = True  # touches A only
    pred[3, 0, 0] = True  # a false lesion
    flags = {t.lower(): np.zeros(4, np.uint8) for t in SUBTYPES}
    flags["epidural"][0] = flags["subdural"][1] = flags["intraparenchymal"][3] = 1
    counts = lesion_counts(pred, truth, flags)
    assert (counts["lesions_true"], counts["lesions_found"], counts["lesions_pred"], counts["lesions_pred_hit"]) == (
        2, 1, 2, 1,
    )  # fmt: skip
    assert (counts["lesions_true_epidural"], counts["lesions_found_epidural"]) == (1, 1)
    assert (counts["lesions_true_subdural"], counts["lesions_found_subdural"]) == (1, 1)
    assert (counts["lesions_true_intraparenchymal"], counts["lesions_found_intraparenchymal"]) == (1, 0)
    assert counts["lesions_true_intraventricular"] == 0
    per_subject = pd.DataFrame([{"model": "a", "subject": "1", **counts}, {"model": "a", "subject": "2", **counts}])
    scores = subtype_scores(_frame(), ["a"], 400, per_subject).set_index("subtype")
    assert scores.loc["Epidural", "lesion_sensitivity"] == 1.0 and scores.loc["Intraparenchymal", "lesions"] == 2
    assert scores.loc["Intraparenchymal", "lesion_sensitivity"] == 0.0
    assert np.isnan(scores.loc["Intraventricular", "lesion_sensitivity"])
    table = subtype_table(subtype_scores(_frame(), ["a"], 400, per_subject), "lesion_sensitivity")
    assert "EDH (2 lesions)" in table.columns
    assert subtype_scores(_frame(), ["a"], 400)["lesion_sensitivity"].isna().all()  # rows from before
