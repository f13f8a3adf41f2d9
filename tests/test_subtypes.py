"""Dice by hemorrhage type (evaluation.subtypes) against hand-computed cases and the metric table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ichbench.data.dataset import SUBTYPES
from ichbench.evaluation.metrics import TABLE
from ichbench.evaluation.subtypes import subtype_dice_table, subtype_scores


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
    wide = subtype_dice_table(subtype_scores(_frame(), ["b", "a"], min_pixels=400))
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
