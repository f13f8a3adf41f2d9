"""The metric table is the one place a metric is defined: a metric added there reaches every output."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ichbench.cli import main
from ichbench.evaluation import metrics
from ichbench.evaluation.metrics import Metric


def _flagged(s: metrics.Counts) -> np.ndarray:
    """The share of slices flagged as hemorrhage, (TP + FP) / all: a metric ichbench does not ship."""
    tp, fp, fn, tn = (np.asarray(s[k], float) for k in ("d_tp", "d_fp", "d_fn", "d_tn"))
    return (tp + fp) / (tp + fp + fn + tn)


FLAGGED = Metric("flagged", "pooled", "flagged share", False, _flagged, key=True, doc="share of slices flagged")


@pytest.mark.slow
def test_a_metric_added_to_the_table_reaches_csv_page_report_and_verify(
    tmp_path: Path, tiny_protocol, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setitem(metrics.TABLE, "flagged", FLAGGED)
    monkeypatch.chdir(tmp_path)
    tiny = tiny_protocol(tmp_path / "tiny.toml", epochs=1)
    assert main(["run", "--models", "threshold", "--protocol", str(tiny), "--out", "r", "--leaderboard", "lb"]) == 0
    assert "flagged share" in capsys.readouterr().out  # the table `run` prints

    summary = pd.read_csv(tmp_path / "r" / "summary.csv")
    per_slice = pd.read_csv(tmp_path / "r" / "per_slice.csv")
    positive_pred = per_slice.pred_pixels > 4  # the tiny protocol's detection rule
    positive_truth = per_slice.truth_pixels > 4
    assert summary.loc[0, "flagged"] == pytest.approx(positive_pred.mean())  # by hand from the slices
    assert "flagged_std" in summary.columns and positive_truth.any()

    (table,) = Path("lb").glob("phantom__tiny-*.csv")
    assert pd.read_csv(table).loc[0, "flagged"] == pytest.approx(summary.loc[0, "flagged"], rel=1e-5)
    assert " flagged share |" in (Path("lb") / "README.md").read_text()

    assert main(["report", "r", "--out", "rep"]) == 0
    assert "flagged share" in (tmp_path / "rep" / "report.html").read_text()
    assert "flagged share" in (tmp_path / "rep" / "report.md").read_text()

    assert main(["leaderboard", "verify", "--leaderboard", "lb"]) == 0
    frame = pd.read_csv(table, dtype=str, keep_default_na=False)
    frame.loc[0, "flagged"] = "0.999"  # a row whose new metric no longer follows from its evidence
    frame.to_csv(table, index=False)
    assert main(["leaderboard", "verify", "--leaderboard", "lb"]) == 1


def test_every_metric_is_complete() -> None:
    for m in metrics.table():
        assert m.level in ("subject", "empty", "pooled", "cohort") and m.label and m.doc, m.name
        # Computed at scoring from the masks (or the spacing), kept in the per-subject rows:
        assert m.formula is not None or m.name in ("hd95", "nsd", "volume_error_ml"), m.name
    assert metrics.names("subject")[:4] == ["dice_paper", "jaccard_paper", "dice_3d", "hd95"]
    assert metrics.names("empty") == ["fp_volume_empty"]
    assert all(m.later for m in metrics.table("cohort"))  # added after rows were written
    assert not metrics.TABLE["hd95"].higher_is_better and metrics.TABLE["dice_paper"].higher_is_better


def test_no_module_outside_the_table_spells_a_pooled_formula() -> None:
    """The report's statistics and plots evaluate the table's formulas; they carry no copy of their own."""
    from ichbench.report import overlays, plots, stats

    for module in (stats, plots, overlays):
        source = inspect.getsource(module)
        for fragment in (
            "2 * tp",
            "2 * flagged",
            ".tp /",
            "tp + fn",
            "tn + fp",
            "tp / (tp + fp)",
            "_pixels > min_pixels",
        ):
            assert fragment not in source, (module.__name__, fragment)
