"""Where things live in a run directory, and in an evidence folder, which has the same layout.

run.json  protocol.toml  splits.json  summary.csv  (per_slice, per_subject, history CSVs)
jobs/<model>/fold<k>/            one job: result.json (an evidence folder: result.json.gz),
jobs/<model>/seed<s>/fold<k>/    predictions.npz, best.pt and checkpoint.pt with their .sha256
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

RUN_JSON, PROTOCOL, SPLITS, SUMMARY = "run.json", "protocol.toml", "splits.json", "summary.csv"
JOBS = "jobs"  # the jobs' parent folder
RESULT = "result.json"  # a finished job's result (training.job writes it)
RESULT_GZ = RESULT + ".gz"  # the same, gzipped, in an evidence folder
CHECKPOINT, BEST = "checkpoint.pt", "best.pt"  # each with a .sha256 record beside it (atomic)
PREDICTIONS = "predictions.npz"  # a job's binary test masks, per subject (the report's overlays)


class JobDir(NamedTuple):
    """One job's folder, with the fold and seed (None: a run of one unnamed seed) its path names."""

    fold: int
    seed: int | None
    path: Path


def job_path(root: Path, model: str, fold: int, seed: int | None = None) -> Path:
    """Where a job lives in a run directory or evidence folder: jobs/<model>/fold<k>, or
    jobs/<model>/seed<s>/fold<k> for one seed of several."""
    base = Path(root) / JOBS / model
    return base / f"fold{fold}" if seed is None else base / f"seed{seed}" / f"fold{fold}"


def _numbered(folder: Path, prefix: str) -> list[tuple[int, Path]]:
    """The sub-folders named <prefix><number>, with their numbers."""
    return [(int(d.name[len(prefix) :]), d) for d in folder.glob(f"{prefix}*") if d.name[len(prefix) :].isdigit()]


def job_dirs(root: Path, model: str) -> list[JobDir]:
    """Every job folder of a model in a run directory or evidence folder, in (seed, fold) order, the
    unseeded ones first; finished or not (read_result says)."""
    base = Path(root) / JOBS / model
    found = [JobDir(fold, None, d) for fold, d in _numbered(base, "fold")]
    for seed, seed_dir in _numbered(base, "seed"):
        found += [JobDir(fold, seed, d) for fold, d in _numbered(seed_dir, "fold")]
    return sorted(found, key=lambda j: (-1 if j.seed is None else j.seed, j.fold))


def model_names(root: Path) -> list[str]:
    """The models that have a jobs folder in a run directory or evidence folder, sorted."""
    return sorted(p.name for p in (Path(root) / JOBS).glob("*") if p.is_dir())
