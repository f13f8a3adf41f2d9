"""The budget of a row: its columns from hand-made fold results, the Pareto front, the page and the CLI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ichbench.evaluation.budget import pareto_front, still_learning, summarize_budget, threshold_at_edge
from ichbench.leaderboard.page import render
from ichbench.models.cost import pflop
from ichbench.protocol import load_protocol
from ichbench.report.stats import against_published


@pytest.fixture
def _fold(job_result):
    def make(losses: list[float], best: int, threshold: float = 0.5, **extra):
        history = [{"val_loss": v, "windows": 100, "val_windows": 10} for v in losses]
        return job_result(history=history, best_epoch=best, epochs=len(losses), threshold=threshold, **extra)

    return make


def test_still_learning_by_hand(_fold, job_result) -> None:
    select = "val_soft_jaccard"
    assert still_learning(_fold([0.5, 0.4, 0.3, 0.35], best=3), select)  # kept the last epoch
    assert still_learning(_fold([0.5, 0.4, 0.45, 0.45, 0.3], best=1), select)  # new low in the last quarter
    assert not still_learning(_fold([0.5, 0.3, 0.4, 0.45], best=1), select)  # best long before the end
    assert still_learning(job_result(), select) is None  # a band that does not train


def test_select_last_is_still_learning_only_while_the_validation_loss_falls(_fold) -> None:
    # select = "last" keeps the last epoch by rule: that alone says nothing about the curve.
    plateau = _fold([0.5, 0.3, 0.3, 0.31, 0.3, 0.32, 0.3, 0.3], best=7)
    assert not still_learning(plateau, "last")
    assert still_learning(plateau, "val_soft_jaccard")  # under a selection rule the last epoch won: it is
    falling = _fold([0.5, 0.4, 0.35, 0.33, 0.32, 0.31, 0.30, 0.29], best=7)
    assert still_learning(falling, "last")


def test_threshold_at_the_grid_edge_and_the_summary_by_hand(_fold) -> None:
    cpu = load_protocol("cpu")  # a grid of 0.1 ... 0.9, searched
    folds = [
        _fold([0.5, 0.4], best=1, threshold=0.1, gflop_per_window=2.0, train_pflop=1.5, train_seconds=3600.0,
              infer_seconds=360.0, peak_memory_mb=900.0, lesion_filter={"min_area": 800, "at_edge": True}),
        _fold([0.5, 0.6, 0.7, 0.8], best=0, threshold=0.5, gflop_per_window=2.0, train_pflop=0.5,
              train_seconds=1800.0, infer_seconds=360.0, peak_memory_mb=1200.0,
              lesion_filter={"min_area": 100, "at_edge": False}),
    ]  # fmt: skip
    assert threshold_at_edge(folds[0], cpu) and not threshold_at_edge(folds[1], cpu)
    assert threshold_at_edge(folds[0], load_protocol("paper")) is None  # paper's threshold is fixed
    budget = summarize_budget(folds, cpu)
    assert budget == {
        "gflop_per_window": 2.0,
        "train_pflop": 2.0,
        "train_hours": 1.5,
        "infer_hours": 0.2,
        "peak_memory_mb": 1200.0,
        "still_learning": 0.5,
        "threshold_at_edge": 0.5,
        "lesion_at_edge": 0.5,
    }
    before = summarize_budget([_fold([0.5], best=0)], cpu)  # results from before the recording
    assert math.isnan(before["train_pflop"]) and math.isnan(before["lesion_at_edge"])
    # 3 forwards per trained window, one per predicted one: 2 GFLOP x (3 x 1e5 + 2e5) = 1e6 GFLOP.
    assert pflop(2.0, 1e5, 2e5) == pytest.approx(1.0)


def test_pareto_front_by_hand() -> None:
    cost = np.array([1.0, 2.0, 3.0, 2.0, np.nan])
    dice = np.array([0.20, 0.30, 0.25, 0.30, 0.9])
    # (3, 0.25) is beaten by (2, 0.30); the two equal points both stay; a NaN is never on the front.
    assert pareto_front(cost, dice).tolist() == [True, True, False, True, False]


def test_against_the_published_value_by_hand() -> None:
    rows = [
        {"model": "high", "subject": str(i), "has_hemorrhage": True, "dice_paper": 0.5 + 0.01 * i} for i in range(12)
    ]
    rows += [{"model": "same", "subject": str(i), "has_hemorrhage": True, "dice_paper": 0.3 + 0.03 * (i - 5.5)}
             for i in range(12)]  # fmt: skip
    rows += [{"model": "high", "subject": "x", "has_hemorrhage": False, "dice_paper": 0.0}]  # not counted
    out = against_published(pd.DataFrame(rows), 0.3).set_index("model")
    assert out.loc["high", "subjects"] == 12 and out.loc["high", "verdict"] == "above"
    # 12 positive, distinct differences: W+ = 78 against a mean of 12 * 13 / 4 = 39 and a standard deviation
    # of sqrt(12 * 13 * 25 / 24); continuity-corrected normal approximation, times 2 models (Holm's first step).
    z = (78 - 39 - 0.5) / math.sqrt(12 * 13 * 25 / 24)
    p = math.erfc(z / math.sqrt(2))
    assert out.loc["high", "p"] == pytest.approx(p) and out.loc["high", "p_holm"] == pytest.approx(2 * p)
    assert out.loc["same", "verdict"].startswith("not shown to differ") and out.loc["same", "p"] > 0.5


def _row(model: str, protocol: str, test_hash: str, pflop_: float, dice: float) -> dict:
    return {
        "date": "2026-12-01T00:00:00+00:00", "model": model, "kind": "cv", "params": 1, "dice_paper": dice,
        "train_pflop": pflop_, "train_hours": 1.0, "still_learning": 0.4, "folds": 5, "epochs": 6,
        "device": "cpu", "commit": "abc", "protocol": protocol, "protocol_hash": "h" * 12, "test_hash": test_hash,
        "recipe_hash": protocol * 3, "dataset": "ctich-1.0.0", "dataset_fingerprint": "f" * 64, "evidence": "",
    }  # fmt: skip


def test_a_test_table_shows_recipes_budgets_published_rows_and_the_pareto_figure(tmp_path: Path) -> None:
    test = load_protocol("paper").test_hash
    rows = [_row("unet", "cpu", test, 0.4, 0.25), _row("resunet", "cpu", test, 0.6, 0.31)]
    rows += [_row("threshold-fixed", "paper", test, 0.0, 0.137)]
    pd.DataFrame(rows).to_csv(tmp_path / f"ctich-1.0.0__test-{test[:8]}.csv", index=False)
    page = render(tmp_path)
    assert f"test {test} (recipes `cpu`, `paper`)" in page
    assert "U-Net (published, Table 9)" in page and "| 40% |" in page
    # Another published result sits in the column of its own metric (HGI-SAM: the per-positive-slice Dice).
    heads = next(line for line in page.splitlines() if line.startswith("| date | model | recipe |")).split(" | ")
    anchor = next(line for line in page.splitlines() if "HGI-SAM (published" in line).split(" | ")
    assert anchor[heads.index("Dice/slice")] == "0.440" and anchor[heads.index("Dice")] == "-"
    assert (tmp_path / f"ctich-1.0.0__test-{test[:8]}.budget.png").read_bytes().startswith(b"\x89PNG")
    other = [_row("unet", "quick", "0123456789ab", 0.4, 0.25)]
    pd.DataFrame(other).to_csv(tmp_path / "phantom__test-01234567.csv", index=False)
    page = render(tmp_path)  # each published row once, labelled where the paper prints it, not beside other tests
    assert page.count("(published, Table 9)") == 4 and page.count("(published, section 5 text)") == 1
    assert page.count("HGI-SAM (published") == 1


def test_the_cli_filters_and_sorts_by_budget(tmp_path: Path, cli) -> None:
    test = load_protocol("paper").test_hash
    rows = [_row("unet", "cpu", test, 0.4, 0.25), _row("resunet", "cpu", test, 0.6, 0.31)]
    pd.DataFrame(rows).to_csv(tmp_path / f"ctich-1.0.0__test-{test[:8]}.csv", index=False)
    cheap = cli("leaderboard", "--leaderboard", str(tmp_path), "--max-pflop", "0.5", "--budget")
    assert cheap.returncode == 0 and "unet" in cheap.stdout and "resunet" not in cheap.stdout
    assert "train PFLOP" in cheap.stdout
    ordered = cli("leaderboard", "--leaderboard", str(tmp_path), "--sort", "train_pflop")
    assert ordered.stdout.index("unet ") < ordered.stdout.index("resunet")  # cheapest first


def test_budget_figure_labels_never_overlap_and_stay_beside_the_axes() -> None:
    from ichbench.leaderboard.figure import label_heights

    rng = np.random.default_rng(0)
    for n in (1, 5, 21):
        y = np.concatenate([rng.random(n - n // 2), np.full(n // 2, 0.97)])  # a cluster near the top
        gap = 0.9 / max(n, 18)
        placed = label_heights(y, gap)
        ordered = np.sort(placed)
        assert np.all(np.diff(ordered) >= gap - 1e-12) and ordered[0] >= 0 and ordered[-1] <= 1
        assert list(np.argsort(placed, kind="stable")) == list(np.argsort(y, kind="stable"))  # order kept
    assert label_heights(np.array([0.2, 0.5]), 0.05).tolist() == [0.2, 0.5]  # far apart: at their points


def test_a_row_of_several_seeds_is_drawn_at_one_seeds_compute(monkeypatch) -> None:
    from ichbench.leaderboard import figure

    drawn = {}
    offsets = lambda fig: np.concatenate([c.get_offsets() for c in fig.axes[0].collections])  # noqa: E731
    monkeypatch.setattr(figure, "png", lambda fig: drawn.setdefault("x", offsets(fig)))
    rows = pd.DataFrame({"model": ["a", "b"], "dice_paper": [0.3, 0.35], "train_pflop": [0.3, 1.5], "seeds": [1, 3]})
    figure.budget(rows)
    points = sorted(tuple(p) for p in np.asarray(drawn["x"]))
    assert [round(x, 6) for x, _ in points] == [0.3, 0.5]  # 1.5 PFLOP over 3 seeds: 0.5 each
