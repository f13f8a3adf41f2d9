"""A run's evidence, small enough to commit beside its leaderboard rows, and readable back by merge.

`leaderboards/runs/<name>/` holds run.json, protocol.toml, splits.json, summary.csv and, per finished
job, its gzipped result (the job's per-slice counts, per-subject rows, history and threshold curve:
tens of KB), laid out as the run directory is (`ichbench.rundir`). `ichbench merge` accepts such a
folder like a run directory, so every metric of a row can be recomputed from it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ichbench.atomic import atomic_write_bytes
from ichbench.errors import RunError
from ichbench.rundir import (
    PROTOCOL,
    RESULT_GZ,
    RUN_JSON,
    SPLITS,
    SUMMARY,
    job_dirs,
    model_names,
    read_result,
    result_gz,
)

FILES = (RUN_JSON, PROTOCOL, SPLITS, SUMMARY)


def export_evidence(run_dir: Path, out: Path) -> list[str]:
    """Copy a run's evidence to `out` (added to, never overwritten); returns the jobs written."""
    run_dir, out = Path(run_dir), Path(out)
    if not (run_dir / RUN_JSON).is_file():
        raise RunError(f"{run_dir}: not a run directory (no {RUN_JSON})")
    held = out / RUN_JSON
    if held.is_file() and _identity(held) != _identity(run_dir / RUN_JSON):  # a resumed run is the same run
        raise RunError(
            f"{out}: holds the evidence of another run; export each run to its own folder "
            "(ichbench merge takes several)"
        )
    out.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if (run_dir / name).is_file():
            shutil.copyfile(run_dir / name, out / name)
    written = []
    for model in model_names(run_dir):
        for fold, seed, job_dir in job_dirs(run_dir, model):
            target = out / job_dir.relative_to(run_dir) / RESULT_GZ
            if not target.exists() and (result := read_result(job_dir)) is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(target, result_gz(result))
                written.append(f"{model}:{fold}" + ("" if seed is None else f" (seed {seed})"))
    return written


def _identity(path: Path) -> tuple:
    """What makes a run that run (a resume rewrites run.json but keeps these)."""
    meta = json.loads(path.read_text())
    return tuple(str(meta.get(k)) for k in ("created", "protocol_hash", "dataset_fingerprint", "models", "jobs"))
