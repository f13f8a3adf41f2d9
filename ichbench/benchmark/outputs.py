"""What a finished set of jobs leaves: the run directory's CSVs, its summary and its leaderboard rows.

Shared by `ichbench run`, `ichbench merge` and `ichbench evaluate`, so the three write the same files.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ichbench.atomic import atomic_write_text
from ichbench.environment import code_commit
from ichbench.evaluation.budget import BUDGET_COLUMNS, summarize_budget
from ichbench.evaluation.metrics import value_columns
from ichbench.evaluation.summary import summarize_results
from ichbench.leaderboard import append as append_leaderboard
from ichbench.leaderboard.board import require_clean
from ichbench.leaderboard.cells import cell_text, code_cells, commit_labels, device_cell, precision_cell
from ichbench.leaderboard.evidence import Source
from ichbench.protocol import Protocol
from ichbench.rundir import SPLITS, JobResult

log = logging.getLogger("ichbench.benchmark")


def finish(
    out: Path,
    results: list[JobResult],
    protocol: Protocol,
    meta: dict,
    board: Path | None,
    folds: int,
    allow_dirty: bool = False,
) -> pd.DataFrame:
    """Write the CSVs of every finished job; models with all `folds` folds get leaderboard rows (refused for a
    leaderboard kept in git when a fold ran from an uncommitted tree, unless `allow_dirty`)."""
    summary = write_run_files(out, results, protocol)
    # Every (fold, seed) job: counting folds and seeds apart would pass a model missing one seed of one fold.
    jobs = Counter(r.model for r in results)
    complete = summary[summary["model"].map(jobs) == folds * max(1, len(protocol.cv.seeds))]
    rows = leaderboard_rows(complete, meta, board, out)
    atomic_write_text(out / "leaderboard_rows.json", json.dumps(rows, indent=1, default=str))
    if board is not None and rows:
        require_clean(board, [c for r in rows for c in commit_labels(r["commit"])], allow_dirty)
        rows = [{**r, "code_clean": "no (--allow-dirty)" if r["code_clean"] == "no" else r["code_clean"]} for r in rows]
        path = append_leaderboard(board, rows, evidence_source(out, results, protocol, meta))
        log.info("appended %d row(s) to %s", len(rows), path)
    return summary


def evidence_source(out: Path, results: list[JobResult], protocol: Protocol, meta: dict) -> Source:
    """What the rows' evidence is written from: the results, the protocol, run.json and the run's splits."""
    splits = out / SPLITS
    return Source(results, protocol.to_toml(), meta, splits.read_bytes() if splits.is_file() else None)


def write_run_files(out: Path, results: list[JobResult], protocol: Protocol) -> pd.DataFrame:
    """per_slice.csv, per_subject.csv, history.csv and summary.csv from the job results."""
    per_slice = pd.DataFrame([row for r in results for row in r.per_slice])
    per_subject = pd.DataFrame([row for r in results for row in r.per_subject])
    history = pd.DataFrame([{"model": r.model, "fold": r.fold, **_seed(r), **h} for r in results for h in r.history])
    rows = []
    for model in dict.fromkeys(r.model for r in results):
        mine = [r for r in results if r.model == model]
        metrics = summarize_results(mine, protocol.metrics.detection_pixels)
        rows.append(
            {
                "model": model,
                "params": mine[0].params,
                "folds": len({r.fold for r in mine}),
                "epochs": max(r.epochs for r in mine),
                "wall_s": sum(r.seconds for r in mine),
                "thresholds": ";".join(f"{r.threshold:g}" for r in mine),
                **code_cells(mine),
                "devices": device_cell(mine),
                "precisions": precision_cell(mine),
                **metrics,
                **summarize_budget(mine, protocol),
            }
        )
    summary = pd.DataFrame(rows)
    for name, frame in (
        ("per_slice", per_slice),
        ("per_subject", per_subject),
        ("history", history),
        ("summary", summary),
    ):
        atomic_write_text(out / f"{name}.csv", frame.to_csv(index=False, float_format="%.6g"))
    return summary


def leaderboard_rows(summary: pd.DataFrame, meta: dict, board: Path | None, out: Path) -> list[dict]:
    """One leaderboard row per model of a finished run (meta may set kind and trained_on)."""
    date = datetime.now(UTC).isoformat(timespec="seconds")
    rows = []
    for _, s in summary.iterrows():
        row = {
            "date": date,
            "model": s["model"],
            "kind": meta.get("kind", "cv"),
            "params": int(s["params"]),
            "folds": int(s["folds"]),
            "seeds": int(s["seeds"]),
            "dice_paper_seed_std": s["dice_paper_seed_std"],
            "epochs": int(s["epochs"]),
            "wall_s": round(float(s["wall_s"]), 1),
            # The folds' own devices and precisions; the run's for results from before jobs recorded them.
            "device": cell_text(s.get("devices")) or meta["device_name"],
            "training_precision": cell_text(s.get("precisions")) or meta.get("training_precision", ""),
            "torch": meta["torch"],
            "ichbench": meta["ichbench"],
            # The folds' own commits; for results from before jobs recorded theirs, the run's (its run.json).
            "commit": cell_text(s.get("commits")) or meta.get("commit") or code_commit(),
            "code_clean": cell_text(s.get("code_clean")) or ("no" if "+dirty" in str(meta.get("commit", "")) else ""),
            "protocol": meta["protocol"],
            "protocol_hash": meta["protocol_hash"],
            "test_hash": meta.get("test_hash", ""),  # empty: a protocol scored at its training scale
            "recipe_hash": meta.get("recipe_hash", ""),
            "dataset": meta["dataset"],
            "dataset_fingerprint": meta["dataset_fingerprint"],
            "trained_on": meta.get("trained_on", meta["dataset"]),
            **{k: meta[k] for k in ("ensemble", "own_dice_paper") if k in meta},
            "run": str(out),
        }
        row.update({c: s[c] for c in value_columns() + BUDGET_COLUMNS if c in s})
        rows.append(row)
    return rows


def _seed(result: JobResult) -> dict:
    return {} if result.seed is None else {"seed": result.seed}
