"""The versioned leaderboard: atomic, locked appends; one table per protocol hash; the rendered README."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from ichbench import leaderboard
from ichbench.evaluation.budget import BUDGET_COLUMNS
from ichbench.evaluation.metrics import names, value_columns

ROOT = Path(__file__).resolve().parents[1]


def _row(
    model: str,
    protocol_hash: str = "abc123abc123",
    dataset: str = "ctich-1.0.0",
    protocol: str = "paper",
    dice: float = 0.1,
) -> dict:
    row = {c: 0.5 for c in value_columns() + BUDGET_COLUMNS}
    row.update(
        {
            "date": "2026-11-26T00:00:00+00:00",
            "model": model,
            "kind": "cv",
            "params": 10,
            "folds": 5,
            "epochs": 1,
            "wall_s": 1.0,
            "device": "cpu",
            "training_precision": "fp32",
            "torch": "2",
            "ichbench": "0.1",
            "commit": "x",
            "protocol": protocol,
            "protocol_hash": protocol_hash,
            "test_hash": "",
            "recipe_hash": "",
            "code_clean": "",
            "seeds": 1,
            "dice_paper_seed_std": float("nan"),
            "dataset": dataset,
            "dataset_fingerprint": "f" * 64,
            "trained_on": dataset,
            "run": "runs/x",
            "dice_paper": dice,
            "jaccard_paper": dice / 2,
        }
    )
    return row


APPENDER = """
import sys, time
from pathlib import Path
from ichbench import leaderboard
from ichbench.evaluation.metrics import value_columns
directory, tag, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
row = {c: 0.5 for c in value_columns()}
row.update(date="2026", kind="cv", params=1, folds=5, epochs=1, wall_s=1.0, device="cpu", torch="2",
           ichbench="0.1", commit="x", protocol="paper", protocol_hash="abc123abc123", dataset="ctich-1.0.0",
           dataset_fingerprint="f", trained_on="ctich-1.0.0", run="r", dice_paper=0.123456789)
while not go.exists():  # start together, so the appends really race
    time.sleep(0.001)
for i in range(15):
    leaderboard.append(directory, [dict(row, model=f"{tag}{i}")])
"""


def test_concurrent_appends_keep_every_row_whole(tmp_path: Path) -> None:
    go = tmp_path / "go"
    board = tmp_path / "board"
    procs = [
        subprocess.Popen([sys.executable, "-c", APPENDER, str(board), tag, str(go)], cwd=tmp_path) for tag in ("a", "b")
    ]
    time.sleep(1.0)
    go.touch()
    for p in procs:
        assert p.wait(120) == 0
    frame = pd.read_csv(board / "ctich-1.0.0__paper-abc123ab.csv")
    expected = sorted([f"a{i}" for i in range(15)] + [f"b{i}" for i in range(15)])
    assert len(frame) == 30 and sorted(frame["model"]) == expected
    assert list(frame.columns) == leaderboard.columns()
    assert (frame["dice_paper"] == 0.123457).all() and frame["device"].notna().all()
    assert not list(board.glob(".*.tmp"))


def test_rows_are_appended_never_rewritten_and_hashes_never_share_a_table(tmp_path: Path) -> None:
    first = leaderboard.append(tmp_path, [_row("unet")])
    before = first.read_text()
    leaderboard.append(tmp_path, [_row("linknet")])
    assert first.read_text().startswith(before)
    other = leaderboard.append(tmp_path, [_row("unet", protocol_hash="fff000fff000")])
    assert first.name == "ctich-1.0.0__paper-abc123ab.csv" and other.name == "ctich-1.0.0__paper-fff000ff.csv"
    assert set(pd.read_csv(first)["protocol_hash"]) == {"abc123abc123"}


def test_readme_carries_published_rows_and_the_threshold_comparison(tmp_path: Path) -> None:
    leaderboard.append(tmp_path, [_row("threshold-fixed", dice=0.2)])
    leaderboard.append(tmp_path, [_row("unet", dataset="phantom", protocol="quick", protocol_hash="q" * 12)])
    text = (tmp_path / "README.md").read_text()
    for published in (
        "| U-Net | 0.315 | 0.218 | 0.4651 | 0.7075 |",
        "| U-Net++ | 0.332 | 0.24 | 0.4935 | 0.6667 |",
        "| ResUNet | 0.276 | 0.2 | 0.6206 | 0.6415 |",
        "| LinkNet | 0.041 | 0.023 | 0.4575 | 0.7642 |",
        "| threshold (140-230) | 0.135 | 0.08 | - | - |",
    ):
        assert published in text
    assert "fixed band 140-230 (`threshold-fixed`): Dice 0.200, Jaccard 0.100 here against the published 0.135" in text
    assert "| threshold-fixed | 0.500 | 0.500 | 0.500 | 0.500 |" in text  # both detection rules, side by side
    assert "## phantom / protocol `quick`" in text
    assert text.count("Published in the seed paper") == 1  # only beside the paper protocol
    assert all(m in leaderboard.columns() for m in names())


def test_readme_shows_the_latest_row_per_model_first_and_the_history_below(tmp_path: Path) -> None:
    for model, dice in (("unet", 0.1), ("resunet", 0.3), ("unet", 0.2)):
        leaderboard.append(tmp_path, [_row(model, dice=dice)])
    text = (tmp_path / "README.md").read_text()
    current, history = text.split("Latest row per model")[1].split("<details>")
    rows = [line for line in current.splitlines() if line.startswith("| 2026")]
    assert [r.split(" | ")[1] for r in rows] == ["resunet", "unet"] and "0.200" in rows[1]  # unet's newest
    assert "History: all 3 rows" in history and history.count("| 2026") == 3


def test_readme_links_a_committed_report(tmp_path: Path) -> None:
    leaderboard.append(tmp_path, [_row("threshold")])
    report = tmp_path / "reports" / "ctich-1.0.0__paper-abc123ab" / "report.html"
    report.parent.mkdir(parents=True)
    report.write_text("<html></html>")
    leaderboard.append(tmp_path, [_row("unet")])
    assert (
        "[reports/ctich-1.0.0__paper-abc123ab/report.html](reports/ctich-1.0.0__paper-abc123ab/report.html)"
        in (tmp_path / "README.md").read_text()
    )


def test_runs_append_to_the_user_leaderboard_unless_told(tmp_path: Path, cli, tiny_protocol) -> None:
    own = tmp_path / "own-board"
    env = {"ICHBENCH_LEADERBOARD": str(own)}
    where = cli("leaderboard", "--where", env=env)
    assert where.returncode == 0 and where.stdout.strip() == str(own)
    tiny = tiny_protocol(tmp_path / "tiny.toml", epochs=1)
    run = cli("run", "--models", "threshold", "--protocol", tiny, "--out", "r", env=env)
    assert run.returncode == 0, run.stderr
    assert list(pd.read_csv(next(own.glob("phantom__tiny-*.csv"))).model) == ["threshold"]
    assert not (tmp_path / "leaderboards").exists()  # the checkout's published tables stay untouched
    shown = cli("leaderboard", "--json", env=env)
    assert shown.returncode == 0 and "phantom__tiny" in shown.stdout
    empty = cli("leaderboard", "--dir", "nowhere", env=env)
    assert empty.returncode == 2 and "nowhere: no leaderboard CSV files" in empty.stderr


def test_a_table_of_an_older_version_gains_the_new_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    new = ("_original", "_original_std", "evidence", "evidence_sha256")
    later = {*BUDGET_COLUMNS, "test_hash", "recipe_hash", "code_clean", "seeds", "dice_paper_seed_std", "ensemble"}
    later |= {"own_dice_paper"}
    old_columns = [c for c in leaderboard.columns() if not c.endswith(new) and c not in later]
    old_row = {c: _row("old")[c] for c in old_columns}
    pd.DataFrame([old_row], columns=old_columns).to_csv(tmp_path / "ctich-1.0.0__paper.csv", index=False)
    before = pd.read_csv(tmp_path / "ctich-1.0.0__paper.csv")
    leaderboard.append(tmp_path, [_row("new")])
    after = pd.read_csv(tmp_path / "ctich-1.0.0__paper.csv")
    assert list(after.columns) == leaderboard.columns() and list(after.model) == ["old", "new"]
    pd.testing.assert_frame_equal(after.loc[:0, old_columns], before[old_columns], check_dtype=False)
    assert math.isnan(after.loc[0, "sensitivity_original"])  # never measured
    assert after.loc[1, "sensitivity_original"] == 0.5
    text = (tmp_path / "ctich-1.0.0__paper.csv").read_text().splitlines()[-1]
    assert all(len(cell.split(".")[-1]) <= 6 for cell in text.split(",") if re.fullmatch(r"\d+\.\d+", cell))  # %.6g


def test_tables_fit_80_columns_with_every_dice_whole(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from ichbench.cli.tables import print_results

    monkeypatch.setenv("COLUMNS", "80")
    names = ["nnunet-2d-resenc", "threshold-fixed", "unetplusplus"]
    frame = pd.DataFrame([{**_row(n, dice=0.123456 + i / 10), "wall_s": 1234.5} for i, n in enumerate(names)])
    print_results(frame, "results", extra=["wall_s"])
    out = capsys.readouterr().out
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 80
    for i, name in enumerate(names):
        assert re.search(rf"{name}\s+{0.123456 + i / 10:.3f}\s", out), out


def test_leaderboard_prints_the_committed_tables_at_80_columns(cli) -> None:
    shown = cli("leaderboard", "--leaderboard", ROOT / "leaderboards", env={"COLUMNS": "80"})
    assert shown.returncode == 0, shown.stderr
    assert "…" not in shown.stdout and max(len(line) for line in shown.stdout.splitlines()) <= 80
    # Each row names its recipe; lesion F1 and the false positives on empty scans stand beside Dice; the
    # published means close the paper's test table, as on the page.
    assert re.search(r"resunet\s+ladder-6-flip\s+0\.388\s+3114\s+0\.136", shown.stdout)  # its latest row
    assert re.search(r"resunet\s+ladder-6-lesions\s+0\.333\s+1147\s+0\.417", shown.stdout)
    assert "FP vox (empty)" in shown.stdout and "lesion F1" in shown.stdout
    assert re.search(r"U-Net\s+Table 9 \(published\)\s+0\.315", shown.stdout)
    assert re.search(r"threshold \(140-230\)\s+sec\. 5 \(published\)\s+0\.135", shown.stdout)
    assert "HGI-SAM" not in shown.stdout  # its metric's column is only in the wide view
    wide = cli("leaderboard", "--leaderboard", ROOT / "leaderboards", "--wide", env={"COLUMNS": "300"}).stdout
    assert re.search(r"HGI-SAM\s+MELBA 2023 \(published\)[\s-]+0\.440\s", wide)
    cleanest = cli("leaderboard", "--leaderboard", ROOT / "leaderboards", "--sort", "fp_volume_empty")
    table = cleanest.stdout.split("ctich-1.0.0__test-b9e07fa1")[1]
    assert table.index("1147") < table.index("3114") < table.index("4360") < table.index("22448")  # fewest first
