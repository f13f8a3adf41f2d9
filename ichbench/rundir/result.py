"""A finished job's result: the typed record training writes and every later stage reads.

In a run directory it is `result.json`; in an evidence folder `result.json.gz`, its canonical JSON
(sorted keys, no spaces) gzipped without a timestamp, so that an evidence folder hashes the same
wherever it is written.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from ichbench.atomic import atomic_write_text
from ichbench.errors import RunError
from ichbench.rundir.layout import RESULT, RESULT_GZ, job_dirs


@dataclass(frozen=True)
class JobResult:
    """One (model, fold, seed) job: what it cost, how it trained, and every test slice's counts.

    The fields after `per_subject` were added over time: a result written before them lacks them (None).
    """

    model: str
    fold: int
    params: int
    best_epoch: int  # the kept epoch (for select = "last", the last one)
    epochs: int  # epochs trained
    threshold: float  # the threshold the test was scored at
    fitted: dict  # a non-learned model's fitted parameters (the threshold band); {} for networks
    seconds: float  # training and inference wall seconds
    history: list[dict]  # one row per epoch (training.train)
    threshold_curve: list[dict]  # validation Dice and Jaccard of the kept epoch against the threshold grid
    per_slice: list[dict]  # TP, FP, FN, TN and the surface and lesion counts of every test slice
    per_subject: list[dict]  # every per-subject score of every test subject
    seed: int | None = None  # the [cv] seed, for a run of several
    gflop_per_window: float | None = None
    train_pflop: float | None = None
    train_seconds: float | None = None
    infer_seconds: float | None = None
    peak_memory_mb: float | None = None
    training_precision: str | None = None  # "bf16" or "fp32": resolved once per job, on its device
    device_name: str | None = None  # per job: a run resumed on another machine has several
    threads: int | None = None  # torch's intra-op threads: they change the numbers (a reduction's order)
    code: dict | None = None  # the code this job loaded (environment.CodeState.record)
    weights_from: dict | None = None  # --weights-from: the source job, its weights' SHA-256, code and device
    lesion_filter: dict | None = None  # [post] lesion_search: the fold's chosen filter, at_edge, the curve

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: every field, without the optional ones this result does not have."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name in _REQUIRED or getattr(self, f.name) is not None
        }

    @classmethod
    def from_dict(cls, doc: object, where: str | Path) -> JobResult:
        """A result from its JSON document; a document that is no job result is a RunError naming `where`."""
        if not isinstance(doc, dict):
            raise RunError(f"{where}: a job result must be a JSON object")
        missing = sorted(_REQUIRED - doc.keys())
        unknown = sorted(doc.keys() - {f.name for f in fields(cls)})
        if missing or unknown:
            said = (f"missing {', '.join(missing)}" if missing else "") + (
                f"{'; ' if missing else ''}unknown {', '.join(unknown)}" if unknown else ""
            )
            raise RunError(f"{where}: not a job result of this ichbench ({said})")
        return cls(**doc)

    @property
    def key(self) -> tuple[int, int]:
        """(seed, fold), the order a model's results are listed in (an unseeded job first)."""
        return (-1 if self.seed is None else self.seed, self.fold)


_REQUIRED = frozenset(f.name for f in fields(JobResult) if f.default is MISSING)  # every result has these


def _jsonable(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a job result")


def write_result(job_dir: Path, result: JobResult) -> None:
    """Write a finished job's result.json atomically (it marks the job finished)."""
    atomic_write_text(Path(job_dir) / RESULT, json.dumps(result.to_dict(), default=_jsonable))


def result_gz(result: JobResult) -> bytes:
    """The evidence folder's result.json.gz: canonical JSON, gzipped without a timestamp."""
    canonical = json.dumps(result.to_dict(), sort_keys=True, separators=(",", ":"), default=_jsonable)
    return gzip.compress(canonical.encode(), mtime=0)


def read_result(job_dir: Path) -> JobResult | None:
    """A finished job's result from a run directory (result.json) or an evidence folder (.json.gz); None
    when the job has not finished."""
    plain, packed = Path(job_dir) / RESULT, Path(job_dir) / RESULT_GZ
    try:
        if plain.is_file():
            return JobResult.from_dict(json.loads(plain.read_text()), plain)
        if packed.is_file():
            return JobResult.from_dict(json.loads(gzip.decompress(packed.read_bytes())), packed)
    except (ValueError, OSError, EOFError) as exc:  # bad JSON, bad UTF-8, a damaged gzip stream
        raise RunError(f"{plain if plain.is_file() else packed}: not a readable job result ({exc})") from None
    return None


def model_results(root: Path, model: str) -> list[JobResult]:
    """Every finished job of `model` in a run directory or evidence folder, in (seed, fold) order."""
    found = [read_result(j.path) for j in job_dirs(root, model)]
    return [r for r in found if r is not None]
