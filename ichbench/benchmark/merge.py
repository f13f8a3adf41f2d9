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

from ichbench.atomic import atomic_write_text
from ichbench.benchmark.outputs import finish
from ichbench.errors import RunError
from ichbench.leaderboard.evidence import read_result
from ichbench.protocol import load_protocol
from ichbench.runlock import hold

SAME = ("protocol_hash", "dataset_fingerprint")
KEPT_FILES = ("result.json", "predictions.npz", "best.pt", "best.pt.sha256")


@dataclass
class Merged:
    """What merge wrote: the summary, the jobs found, and the (model, fold) jobs still missing."""

    summary: pd.DataFrame | None
    found: list[str]
    missing: list[str]


def merge(dirs: list[Path], out: Path, board: Path | None) -> Merged:
    """Merge the finished jobs of `dirs` into `out` (which must not hold a run yet)."""
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
    with hold(out):
        return _merge_into(dirs, out, board, metas, splits)


def _merge_into(dirs: list[Path], out: Path, board: Path | None, metas: list[dict], splits: list[dict]) -> Merged:
    if (out / "run.json").exists():
        raise RunError(f"{out}: a run already lives here; merge into a new directory")
    models = list(dict.fromkeys(m for meta in metas for m in meta["models"]))
    n_folds = len(splits[0]["folds"])
    jobs = _collect(dirs, models, n_folds)
    protocol = load_protocol(dirs[0] / "protocol.toml")
    out.mkdir(parents=True, exist_ok=True)
    for (model, fold), src in jobs.items():
        _copy_job(src, out / "jobs" / model / f"fold{fold}")
    _write_meta(out, dirs, metas, models)
    shutil.copyfile(dirs[0] / "protocol.toml", out / "protocol.toml")
    shutil.copyfile(dirs[0] / "splits.json", out / "splits.json")
    results = [json.loads((out / "jobs" / m / f"fold{f}" / "result.json").read_text()) for m, f in jobs]
    meta = json.loads((out / "run.json").read_text())
    summary = finish(out, results, protocol, meta, board, n_folds) if results else None
    missing = [f"{m}:{f}" for m in models for f in range(n_folds) if (m, f) not in jobs]
    return Merged(summary, [f"{m}:{f}" for m, f in jobs], missing)


def _meta(d: Path) -> dict:
    path = Path(d) / "run.json"
    if not path.is_file():
        raise RunError(f"{d}: not a run directory (no run.json)")
    return json.loads(path.read_text())


def _splits(d: Path) -> dict:
    path = Path(d) / "splits.json"
    if not path.is_file():
        raise RunError(f"{d}: no splits.json")
    doc = json.loads(path.read_text())
    return {"folds": doc["folds"]}


def _collect(dirs: list[Path], models: list[str], n_folds: int) -> dict[tuple[str, int], Path]:
    """(model, fold) -> the first directory holding that job finished, in run order (model, then fold)."""
    found: dict[tuple[str, int], Path] = {}
    for model in models:
        for fold in range(n_folds):
            for d in dirs:
                job = Path(d) / "jobs" / model / f"fold{fold}"
                if read_result(job) is not None:
                    found[(model, fold)] = job
                    break
    return found


def _copy_job(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in KEPT_FILES:  # the last checkpoint is not needed once a job has finished
        if (src / name).exists():
            shutil.copyfile(src / name, dst / name)
    if not (dst / "result.json").exists():  # from an evidence folder
        atomic_write_text(dst / "result.json", json.dumps(read_result(src)))


def _write_meta(out: Path, dirs: list[Path], metas: list[dict], models: list[str]) -> None:
    devices = list(dict.fromkeys(m["device_name"] for m in metas))
    meta = {
        **metas[0],
        "models": models,
        "jobs": None,
        "device_name": " + ".join(devices),
        "merged_from": [str(d) for d in dirs],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    atomic_write_text(out / "run.json", json.dumps(meta, indent=2) + "\n")
