"""Each leaderboard row's evidence: the per-slice counts and splits it was computed from, kept beside the table.

`<board>/runs/<row id>/` holds run.json, protocol.toml, splits.json (when the run had folds) and
`jobs/<model>/fold<k>/result.json.gz` (a job's per-slice counts, per-subject rows, history and
threshold curve: tens of KB). The row records the folder (`evidence`) and a SHA-256 over its contents
(`evidence_sha256`), so `ichbench leaderboard verify` can recompute every metric of the row.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ichbench.atomic import atomic_write_bytes
from ichbench.training.job import job_dirs, job_path

RUNS = "runs"  # the evidence folders' parent, inside the leaderboard folder
UNVERIFIABLE = "unverifiable"  # the `evidence` of a row whose run was gone before evidence was kept


def read_result(job_dir: Path) -> dict | None:
    """A finished job's result from a run directory (result.json) or an evidence folder (.json.gz)."""
    if (job_dir / "result.json").is_file():
        return json.loads((job_dir / "result.json").read_text())
    if (job_dir / "result.json.gz").is_file():
        return json.loads(gzip.decompress((job_dir / "result.json.gz").read_bytes()))
    return None


def model_results(folder: Path, model: str) -> list[dict]:
    """Every finished job of `model` in a run directory or evidence folder, in (seed, fold) order."""
    found = [read_result(d) for _, _, d in job_dirs(folder, model)]
    return [r for r in found if r is not None]


def digest(folder: Path) -> str:
    """SHA-256 over every file of an evidence folder (names and contents, gzip members decompressed)."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and not p.name.startswith(".")):
        data = path.read_bytes()
        name = path.relative_to(folder).as_posix()
        if name.endswith(".gz"):
            data, name = gzip.decompress(data), name[:-3]
        h.update(name.encode() + b"\0" + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-") or "unnamed"


@dataclass(frozen=True)
class Source:
    """What rows' evidence is written from: a run's job results, its protocol, metadata and splits."""

    results: list[dict]
    protocol_toml: str
    meta: dict
    splits: bytes | None = None


def write_row_evidence(board: Path, row: dict, source: Source) -> dict:
    """Write `row`'s evidence under `board/runs/` and return the row with `evidence` and `evidence_sha256`."""
    mine = sorted(
        (r for r in source.results if r["model"] == row["model"]), key=lambda r: (r.get("seed", -1), r["fold"])
    )
    meta = {**source.meta, "models": [row["model"]], "jobs": None}
    files = {
        "run.json": json.dumps(meta, indent=2, default=str).encode(),
        "protocol.toml": source.protocol_toml.encode(),
        **({"splits.json": source.splits} if source.splits is not None else {}),
    }
    for r in mine:
        canonical = json.dumps(r, sort_keys=True, separators=(",", ":")).encode()
        where = job_path(Path(), row["model"], r["fold"], r.get("seed"))
        files[f"{where.as_posix()}/result.json.gz"] = gzip.compress(canonical, mtime=0)
    runs = Path(board) / RUNS
    runs.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=runs, prefix=".staging-"))
    try:
        for name, data in files.items():
            atomic_write_bytes(staging / name, data)
        sha = digest(staging)
        name = f"{_slug(row['dataset'])}__{_slug(row['protocol'])}-{str(row['protocol_hash'])[:8]}"
        target = runs / f"{name}__{_slug(row['model'])}__{sha[:10]}"
        if target.exists():  # the same evidence already kept (a re-appended row): nothing to add
            shutil.rmtree(staging)
        else:
            os.chmod(staging, 0o755)
            staging.rename(target)  # whole folders appear at once: never a half-written one
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {**row, "evidence": f"{RUNS}/{target.name}", "evidence_sha256": sha}
