"""A benchmark run: data, splits, (model, fold) jobs, run-directory files, summary, leaderboard rows."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ichbench.atomic import atomic_write_text
from ichbench.data.dataset import Dataset
from ichbench.data.load import load_dataset
from ichbench.data.phantom_data import phantom_dataset
from ichbench.data.splits import load_splits, make_splits, save_splits
from ichbench.environment import describe_device, git_commit, resolve_device, versions
from ichbench.errors import RunError
from ichbench.evaluation.metrics import METRICS, summarize
from ichbench.leaderboard import append as append_leaderboard
from ichbench.leaderboard import default_directory
from ichbench.models.registry import check_window
from ichbench.progress import Reporter
from ichbench.protocol import Protocol
from ichbench.training.job import Job, JobContext

log = logging.getLogger("ichbench.benchmark.run")


@dataclass
class RunConfig:
    """What `ichbench run` was asked to do."""

    models: list[str]
    protocol: Protocol
    out: Path
    data: Path | None = None
    device: str = "auto"
    resume: bool = False
    leaderboard: Path | None = field(default_factory=default_directory)
    executor: str = "local"
    executor_options: dict | None = None
    splits: Path | None = None
    progress: bool = True


def load_data(config: RunConfig) -> Dataset:
    """The given data folder, or the protocol's phantom."""
    if config.data is None:
        return phantom_dataset(config.protocol.phantom)
    return load_dataset(config.data)


def run(config: RunConfig) -> pd.DataFrame:
    """Run every (model, fold) job and return the summary (one row per model)."""
    for name in config.models:
        check_window(name, config.protocol.windows.size, **config.protocol.models.get(name, {}))
    device = resolve_device(config.device)
    dataset = load_data(config)
    meta = _prepare(config, dataset, device)
    handler = _log_to(config.out / "log.txt")
    try:
        folds = _splits(config, dataset)
        ctx = JobContext(config.protocol, tuple(folds), config.out, device)
        jobs = [Job(m, f.fold) for m in config.models for f in folds]
        log.info("run %s: %d jobs on %s (%s)", config.out, len(jobs), dataset.name, meta["device_name"])
        with Reporter(enabled=config.progress) as reporter:
            results = _executor(config).execute(jobs, ctx, dataset, reporter, **(config.executor_options or {}))
        summary = write_outputs(config.out, results, config.protocol)
        rows = leaderboard_rows(summary, meta, config.leaderboard, config.out)
        atomic_write_text(config.out / "leaderboard_rows.json", json.dumps(rows, indent=1, default=str))
        if config.leaderboard is not None:
            path = append_leaderboard(config.leaderboard, rows)
            log.info("appended %d row(s) to %s", len(rows), path)
        return summary
    finally:
        logging.getLogger("ichbench").removeHandler(handler)
        handler.close()


def _executor(config: RunConfig):
    if config.executor == "local":
        from ichbench.executors import local

        return local
    if config.executor == "ray":
        from ichbench.executors import ray

        return ray
    raise RunError(f"unknown executor {config.executor!r} (choose local or ray)")


def _prepare(config: RunConfig, dataset: Dataset, device: str) -> dict:
    out = config.out
    meta = {
        "protocol": config.protocol.name,
        "protocol_hash": config.protocol.hash_for(on_phantom=config.data is None),
        "dataset": dataset.name,
        "data": str(Path(config.data).resolve()) if config.data is not None else None,
        "dataset_fingerprint": dataset.fingerprint,
        "models": config.models,
        "device": device,
        "device_name": describe_device(device),
        **versions(),
    }
    existing = out / "run.json"
    if existing.exists():
        if not config.resume:
            raise RunError(f"{out}: a run already lives here; pass --resume to continue it, or choose another --out")
        before = json.loads(existing.read_text())
        for key in ("protocol_hash", "dataset_fingerprint", "models"):
            if before.get(key) != meta[key]:
                raise RunError(f"{existing}: cannot resume: {key} was {before.get(key)!r}, now {meta[key]!r}")
        meta["created"] = before["created"]
    elif config.resume:
        raise RunError(f"{out}: nothing to resume (no run.json)")
    else:
        meta["created"] = datetime.now(UTC).isoformat(timespec="seconds")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "run.json", json.dumps(meta, indent=2) + "\n")
    atomic_write_text(out / "protocol.toml", config.protocol.to_toml())
    return meta


def _splits(config: RunConfig, dataset: Dataset) -> list:
    path = config.out / "splits.json"
    source = config.splits if config.splits is not None else (path if path.exists() else None)
    if source is not None:
        folds = load_splits(source, dataset)
    else:
        cv = config.protocol.cv
        folds = make_splits(dataset, cv.folds, cv.seed, cv.val_fraction)
    if source != path:
        save_splits(path, folds, dataset, config.protocol.cv.seed)
    return folds


def _log_to(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("ichbench")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler


def write_outputs(out: Path, results: list[dict], protocol: Protocol) -> pd.DataFrame:
    """per_slice.csv, per_subject.csv, history.csv and summary.csv from the job results."""
    per_slice = pd.DataFrame([row for r in results for row in r["per_slice"]])
    per_subject = pd.DataFrame([row for r in results for row in r["per_subject"]])
    history = pd.DataFrame([{"model": r["model"], "fold": r["fold"], **h} for r in results for h in r["history"]])
    rows = []
    for model in dict.fromkeys(r["model"] for r in results):
        mine = [r for r in results if r["model"] == model]
        metrics = summarize(
            per_slice[per_slice.model == model],
            per_subject[per_subject.model == model],
            protocol.metrics.detection_pixels,
        )
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
    commit = git_commit(Path(where).resolve() if Path(where).exists() else Path.cwd())
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
        row.update({c: s[c] for m in METRICS for c in (m, f"{m}_std")})
        rows.append(row)
    return rows
