"""Each leaderboard row's evidence: the per-slice counts and splits it was computed from, kept beside the table.

`<board>/runs/<row id>/` holds run.json, protocol.toml, splits.json (when the run had folds) and each
job's gzipped result (its per-slice counts, per-subject rows, history and threshold curve: tens of KB),
laid out as a run directory is (`ichbench.rundir`). The row records the folder (`evidence`) and a
SHA-256 over its contents (`evidence_sha256`), so `ichbench leaderboard verify` can recompute every metric of the row.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ichbench.atomic import atomic_write_bytes, tree_sha256
from ichbench.rundir import PROTOCOL, RESULT_GZ, RUN_JSON, SPLITS, JobResult, job_path, result_gz

RUNS = "runs"  # the evidence folders' parent, inside the leaderboard folder
UNVERIFIABLE = "unverifiable"  # the `evidence` of a row whose run was gone before evidence was kept


def digest(folder: Path) -> str:
    """SHA-256 over every file of an evidence folder (names and contents, gzip members decompressed)."""

    def framed(name: str, path: Path) -> tuple[bytes]:
        data = path.read_bytes()
        if name.endswith(".gz"):
            data, name = gzip.decompress(data), name[:-3]
        return (name.encode() + b"\0" + len(data).to_bytes(8, "big") + data,)

    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and not p.name.startswith("."))
    return tree_sha256(Path(folder), files, framed)


def slug(text: str) -> str:
    """A name safe in a file name: runs of other characters become '-'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-") or "unnamed"


@dataclass(frozen=True)
class Source:
    """What rows' evidence is written from: a run's job results, its protocol, metadata and splits."""

    results: list[JobResult]
    protocol_toml: str
    meta: dict
    splits: bytes | None = None


def write_row_evidence(board: Path, row: dict, source: Source) -> dict:
    """Write `row`'s evidence under `board/runs/` and return the row with `evidence` and `evidence_sha256`."""
    mine = sorted((r for r in source.results if r.model == row["model"]), key=lambda r: r.key)
    meta = {**source.meta, "models": [row["model"]], "jobs": None}
    files = {
        RUN_JSON: json.dumps(meta, indent=2, default=str).encode(),
        PROTOCOL: source.protocol_toml.encode(),
        **({SPLITS: source.splits} if source.splits is not None else {}),
    }
    for r in mine:
        files[(job_path(Path(), r.model, r.fold, r.seed) / RESULT_GZ).as_posix()] = result_gz(r)
    runs = Path(board) / RUNS
    runs.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=runs, prefix=".staging-"))
    try:
        for name, data in files.items():
            atomic_write_bytes(staging / name, data)
        sha = digest(staging)
        name = f"{slug(row['dataset'])}__{slug(row['protocol'])}-{str(row['protocol_hash'])[:8]}"
        target = runs / f"{name}__{slug(row['model'])}__{sha[:10]}"
        if target.exists():  # the same evidence already kept (a re-appended row): nothing to add
            shutil.rmtree(staging)
        else:
            os.chmod(staging, 0o755)
            staging.rename(target)  # whole folders appear at once: never a half-written one
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {**row, "evidence": f"{RUNS}/{target.name}", "evidence_sha256": sha}
