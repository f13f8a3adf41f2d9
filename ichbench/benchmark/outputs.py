"""What a finished set of jobs leaves: the run directory's CSVs, its summary and its leaderboard rows.

Shared by `ichbench run`, `ichbench merge` and `ichbench evaluate`, so the three write the same files.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ichbench.atomic import atomic_write_text
from ichbench.environment import code_commit
from ichbench.evaluation.metrics import summarize_results, value_columns
from ichbench.leaderboard import append as append_leaderboard
from ichbench.leaderboard.evidence import Source
from ichbench.protocol import Protocol

log = logging.getLogger("ichbench.benchmark")


def finish(
    out: Path, results: list[dict], protocol: Protocol, meta: dict, board: Path | None, folds: int
) -> pd.DataFrame:
    """Write the CSVs of every finished job; models with all `folds` folds get leaderboard rows."""
    summary = write_run_files(out, results, protocol)
    complete = summary[summary["folds"] == folds]
    rows = leaderboard_rows(complete, meta, board, out)
    atomic_write_text(out / "leaderboard_rows.json", json.dumps(rows, indent=1, default=str))
    if board is not None and rows:
        path = append_leaderboard(board, rows, evidence_source(out, results, protocol, meta))
        log.info("appended %d row(s) to %s", len(rows), path)
    return summary


def evidence_source(out: Path, results: list[dict], protocol: Protocol, meta: dict) -> Source:
    """What the rows' evidence is written from: the results, the protocol, run.json and the run's splits."""
    splits = out / "splits.json"
    return Source(results, protocol.to_toml(), meta, splits.read_bytes() if splits.is_file() else None)


def write_run_files(out: Path, results: list[dict], protocol: Protocol) -> pd.DataFrame:
    """per_slice.csv, per_subject.csv, history.csv and summary.csv from the job results."""
    per_slice = pd.DataFrame([row for r in results for row in r["per_slice"]])
    per_subject = pd.DataFrame([row for r in results for row in r["per_subject"]])
    history = pd.DataFrame([{"model": r["model"], "fold": r["fold"], **h} for r in results for h in r["history"]])
    rows = []
    for model in dict.fromkeys(r["model"] for r in results):
        mine = [r for r in results if r["model"] == model]
        metrics = summarize_results(mine, protocol.metrics.detection_pixels)
        rows.append(
            {
                "model": model,
                "params": mine[0]["params"],
                "folds": len(mine),
                "epochs": max(r["epochs"] for r in mine),
                "wall_s": sum(r["seconds"] for r in mine),
                "thresholds": ";".join(f"{r['threshold']:g}" for r in mine),
                **metrics,
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
    where = board if board is not None else out
    # The code's commit as recorded when the run started (a run takes hours; the tree may change meanwhile).
    commit = meta.get("commit") or code_commit(Path(where).resolve() if Path(where).exists() else Path.cwd())
    rows = []
    for _, s in summary.iterrows():
        row = {
            "date": date,
            "model": s["model"],
            "kind": meta.get("kind", "cv"),
            "params": int(s["params"]),
            "folds": int(s["folds"]),
            "epochs": int(s["epochs"]),
            "wall_s": round(float(s["wall_s"]), 1),
            "device": meta["device_name"],
            "training_precision": meta.get("training_precision", ""),  # none in run.json before the setting
            "torch": meta["torch"],
            "ichbench": meta["ichbench"],
            "commit": commit,
            "protocol": meta["protocol"],
            "protocol_hash": meta["protocol_hash"],
            "dataset": meta["dataset"],
            "dataset_fingerprint": meta["dataset_fingerprint"],
            "trained_on": meta.get("trained_on", meta["dataset"]),
            "run": str(out),
        }
        row.update({c: s[c] for c in value_columns()})
        rows.append(row)
    return rows
