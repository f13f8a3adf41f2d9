"""`ichbench merge`: combine finished jobs of several run directories into the run an unsliced one writes.

Slices of one benchmark (other machines, SLURM array tasks, short GPU allocations) share a protocol,
a data set and splits; merge refuses directories that differ in any of them, copies every finished
job (result, predictions, best weights) into the output, and writes the same summary, CSVs and
leaderboard rows as a run of all those jobs at once. Missing jobs are reported; a model gets a
leaderboard row only when all its folds are there.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ichbench.atomic import atomic_write_text, sidecar
from ichbench.benchmark.outputs import finish
from ichbench.errors import RunError
from ichbench.protocol import load_protocol
from ichbench.rundir import (
    BEST,
    PREDICTIONS,
    PROTOCOL,
    RUN_JSON,
    SPLITS,
    JobResult,
    job_dirs,
    job_path,
    read_result,
    write_result,
)
from ichbench.runlock import hold
from ichbench.training.job import job_name, job_seeds

SAME = ("protocol_hash", "dataset_fingerprint")
KEPT_FILES = (PREDICTIONS, BEST)  # beside the result (a finished job needs no checkpoint), with any SHA-256 record


@dataclass
class Merged:
    """What merge wrote: the summary, the jobs found, and the (model, fold) jobs still missing."""

    summary: pd.DataFrame | None
    found: list[str]
    missing: list[str]


def merge(
    dirs: list[Path], out: Path, board: Path | None, only: list[str] | None = None, allow_dirty: bool = False
) -> Merged:
    """Merge the finished jobs of `dirs` into `out` (which must not hold a run yet); with `only`, the jobs of
    those models alone, so that a run whose models finish at different times gets one row per model."""
    if not dirs:
        raise RunError("merge needs at least one run directory")
    metas = [_meta(d) for d in dirs]
    splits = [_splits(d) for d in dirs]
    for d, m, s in zip(dirs[1:], metas[1:], splits[1:]):
        for key in SAME:
            if m[key] != metas[0][key]:
                raise RunError(
                    f"{d}: {key} {m[key]!r} differs from {dirs[0]}'s {metas[0][key]!r}; "
                    "only slices of one benchmark merge"
                )
        if s != splits[0]:
            raise RunError(f"{d}/splits.json: the folds differ from {dirs[0]}/splits.json")
    if only is not None:
        known = {m for meta in metas for m in meta["models"]}
        unknown = sorted(set(only) - known)
        if unknown:
            raise RunError(f"--models {', '.join(unknown)}: not among the runs' models ({', '.join(sorted(known))})")
    with hold(out):
        return _merge_into(dirs, out, board, metas, splits, only, allow_dirty)


def _merge_into(
    dirs: list[Path],
    out: Path,
    board: Path | None,
    metas: list[dict],
    splits: list[dict],
    only: list[str] | None,
    allow_dirty: bool,
) -> Merged:
    if (out / RUN_JSON).exists():
        raise RunError(f"{out}: a run already lives here; merge into a new directory")
    models = [m for m in dict.fromkeys(m for meta in metas for m in meta["models"]) if only is None or m in only]
    n_folds = len(splits[0]["folds"])
    jobs = _collect(dirs, models, n_folds)
    protocol = load_protocol(dirs[0] / PROTOCOL)
    out.mkdir(parents=True, exist_ok=True)
    for (model, fold, seed), (src, result) in jobs.items():
        _copy_job(src, job_path(out, model, fold, seed), result)
    _write_meta(out, dirs, metas, models)
    shutil.copyfile(dirs[0] / PROTOCOL, out / PROTOCOL)
    shutil.copyfile(dirs[0] / SPLITS, out / SPLITS)
    results = [result for _, result in jobs.values()]
    meta = json.loads((out / RUN_JSON).read_text())
    summary = finish(out, results, protocol, meta, board, n_folds, allow_dirty) if results else None
    seeds = job_seeds(protocol)
    missing = [job_name(m, f, s) for s in seeds for m in models for f in range(n_folds) if (m, f, s) not in jobs]
    return Merged(summary, [job_name(*key) for key in jobs], missing)


def _meta(d: Path) -> dict:
    path = Path(d) / RUN_JSON
    if not path.is_file():
        raise RunError(f"{d}: not a run directory (no {RUN_JSON})")
    return json.loads(path.read_text())


def _splits(d: Path) -> dict:
    path = Path(d) / SPLITS
    if not path.is_file():
        raise RunError(f"{d}: no {SPLITS}")
    doc = json.loads(path.read_text())
    return {"folds": doc["folds"]}


def _collect(
    dirs: list[Path], models: list[str], n_folds: int
) -> dict[tuple[str, int, int | None], tuple[Path, JobResult]]:
    """(model, fold, seed) -> the first folder holding that job finished, in run order, and its result."""
    found: dict[tuple[str, int, int | None], tuple[Path, JobResult]] = {}
    for model in models:
        for d in dirs:
            for fold, seed, job in job_dirs(d, model):
                if fold < n_folds and (model, fold, seed) not in found and (result := read_result(job)) is not None:
                    found[(model, fold, seed)] = (job, result)
    return dict(
        sorted(found.items(), key=lambda kv: (models.index(kv[0][0]), -1 if kv[0][2] is None else kv[0][2], kv[0][1]))
    )


def _copy_job(src: Path, dst: Path, result: JobResult) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for path in (p for name in KEPT_FILES for p in (src / name, sidecar(src / name))):  # an evidence folder has none
        if path.exists():
            shutil.copyfile(path, dst / path.name)
    write_result(dst, result)  # last: it marks the job finished


def _write_meta(out: Path, dirs: list[Path], metas: list[dict], models: list[str]) -> None:
    devices = list(dict.fromkeys(m["device_name"] for m in metas))
    meta = {
        **metas[0],
        "models": models,
        "jobs": None,
        "device_name": " + ".join(devices),
        "commit": ";".join(dict.fromkeys(str(m.get("commit", "")) for m in metas if m.get("commit"))),
        "merged_from": [str(d) for d in dirs],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    atomic_write_text(out / RUN_JSON, json.dumps(meta, indent=2) + "\n")
