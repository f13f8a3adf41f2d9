"""Re-derivable rows: every appended row keeps its evidence; `ichbench leaderboard verify` recomputes it."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture
def board(tmp_path: Path, cli, tiny_protocol) -> Path:
    """A leaderboard folder with the rows of a finished tiny run (threshold, 2 folds) and their evidence."""
    proto = tiny_protocol(tmp_path / "tiny.toml")
    done = cli("run", "--models", "threshold,threshold-fixed", "--protocol", proto, "--out", "r", "--leaderboard", "lb")
    assert done.returncode == 0, done.stderr
    return tmp_path / "lb"


def _table(board: Path) -> Path:
    (path,) = board.glob("*.csv")
    return path


def test_rows_keep_their_evidence_and_verify(board: Path, cli) -> None:
    frame = pd.read_csv(_table(board))
    assert list(frame.model) == ["threshold", "threshold-fixed"]
    for _, row in frame.iterrows():
        folder = board / row["evidence"]
        assert sorted(p.name for p in folder.iterdir()) == ["jobs", "protocol.toml", "run.json", "splits.json"]
        assert len(list(folder.glob(f"jobs/{row['model']}/fold*/result.json.gz"))) == 2
        assert sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) < 300_000
        assert len(row["evidence_sha256"]) == 64
    done = cli("leaderboard", "verify", "--leaderboard", board, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [c["status"] for c in json.loads(done.stdout)] == ["ok", "ok"]


def _rewrite_result(path: Path, change) -> None:
    doc = json.loads(gzip.decompress(path.read_bytes()))
    change(doc)
    path.write_bytes(gzip.compress(json.dumps(doc).encode()))


def _statuses(cli, board: Path) -> tuple[int, list[dict]]:
    done = cli("leaderboard", "verify", "--leaderboard", board, "--json")
    return done.returncode, json.loads(done.stdout)


def test_changed_counts_fail_on_the_hash_and_then_on_the_metrics(board: Path, cli) -> None:
    path = _table(board)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    folder = board / frame.evidence[0]
    result = next(folder.glob("jobs/threshold/fold0/result.json.gz"))

    def more_false_positives(doc: dict) -> None:
        for row in doc["per_slice"]:
            row["fp"] += 500

    _rewrite_result(result, more_false_positives)
    rc, checks = _statuses(cli, board)
    assert rc == 1 and checks[0]["status"] == "failed" and "hash" in checks[0]["detail"]
    assert checks[1]["status"] == "ok"
    # A forger who also updates the hash is caught: the per-subject rows no longer follow from the counts,
    from ichbench.evaluation.metrics import count_scores, counts_of
    from ichbench.leaderboard.evidence import digest

    frame.loc[0, "evidence_sha256"] = digest(folder)
    frame.to_csv(path, index=False)
    rc, checks = _statuses(cli, board)
    assert rc == 1 and checks[0]["status"] == "failed" and "disagree with their per-slice counts" in checks[0]["detail"]

    # and once those are forged to match, by the recomputed metrics against the row.
    def consistent_subjects(doc: dict) -> None:
        per_slice = pd.DataFrame(doc["per_slice"])
        for subject in doc["per_subject"]:
            mine = per_slice[per_slice.subject == subject["subject"]]
            subject.update(count_scores(counts_of(*(mine[k].to_numpy() for k in ("tp", "fp", "fn", "tn")))))

    _rewrite_result(result, consistent_subjects)
    frame.loc[0, "evidence_sha256"] = digest(folder)
    frame.to_csv(path, index=False)
    rc, checks = _statuses(cli, board)
    assert rc == 1 and checks[0]["status"] == "failed"
    assert "dice_paper" in checks[0]["detail"] and "dice_global" in checks[0]["detail"]


def test_an_edited_metric_or_missing_evidence_fails(board: Path, cli) -> None:
    path = _table(board)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[1, "dice_paper"] = str(float(frame.loc[1, "dice_paper"]) + 0.01)
    frame.to_csv(path, index=False)
    rc, checks = _statuses(cli, board)
    assert rc == 1 and checks[1]["status"] == "failed" and checks[1]["detail"].startswith("dice_paper")
    shutil.rmtree(board / frame.evidence[0])
    rc, checks = _statuses(cli, board)
    assert checks[0]["status"] == "failed" and "missing" in checks[0]["detail"]
    frame.loc[0, "evidence"] = ""
    frame.to_csv(path, index=False)
    rc, checks = _statuses(cli, board)
    assert rc == 1 and checks[0]["detail"] == "no evidence recorded"


def test_attach_gives_old_rows_evidence_or_marks_them(board: Path, cli, tmp_path: Path) -> None:
    path = _table(board)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for folder in frame.evidence:
        shutil.rmtree(board / folder)
    old = frame.drop(columns=["evidence", "evidence_sha256"])  # a table from before rows kept evidence
    old.loc[1, "run"] = "gone"
    old.to_csv(path, index=False)
    done = cli("leaderboard", "attach", "--leaderboard", board, "--json")  # row 0's run directory "r" still exists
    assert done.returncode == 0, done.stdout + done.stderr
    checks = json.loads(done.stdout)
    assert [c["status"] for c in checks] == ["ok", "unverifiable"]
    assert "its run directory gone was gone" in checks[1]["detail"]
    after = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert after.drop(columns=["evidence", "evidence_sha256"]).equals(old)  # nothing else rewritten
    assert "unverifiable" in (board / "README.md").read_text()
    done = cli("leaderboard", "verify", "--leaderboard", board)
    assert done.returncode == 0 and "1 verified, 1 unverifiable, 0 failed" in done.stdout


def test_the_committed_leaderboard_verifies() -> None:
    from ichbench.leaderboard.verify import verify

    board = Path(__file__).parent.parent / "leaderboards"
    checks = verify(board)
    assert checks and not [c for c in checks if c.status == "failed"]
    assert any(c.status == "ok" for c in checks)
