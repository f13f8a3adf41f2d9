"""A benchmark run: data, splits, (model, fold) jobs, run-directory files, summary, leaderboard rows."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import torch

from ichbench.atomic import atomic_write_text
from ichbench.benchmark.outputs import finish
from ichbench.benchmark.plan import describe, plan
from ichbench.benchmark.reuse import check_source
from ichbench.data.dataset import Dataset
from ichbench.data.protocol_data import protocol_dataset
from ichbench.data.splits import folds_for, save_splits
from ichbench.environment import code_commit, describe_device, resolve_device, versions
from ichbench.errors import Incomplete, RunError
from ichbench.leaderboard import default_directory
from ichbench.leaderboard.board import require_clean
from ichbench.models.registry import check_model
from ichbench.progress import Reporter
from ichbench.protocol import Protocol
from ichbench.rundir import PROTOCOL, RUN_JSON, SPLITS
from ichbench.runlock import hold
from ichbench.training.job import Job, JobContext, job_name, job_seeds

log = logging.getLogger("ichbench.benchmark.run")
JOB_NAME = re.compile(r"([^:]+):(\d+)(?::seed(\d+))?")  # the inverse of training.job.job_name


@dataclass
class RunConfig:
    """What `ichbench run` was asked to do."""

    models: list[str]
    protocol: Protocol
    out: Path
    data: Path | None = None
    device: str = "auto"
    resume: bool = False
    restart_damaged: bool = False  # with resume: a job whose checkpoint is damaged starts over
    leaderboard: Path | None = field(default_factory=default_directory)
    executor: str = "local"
    executor_options: dict | None = None
    splits: Path | None = None
    progress: bool = True
    jobs: list[tuple[str, int, int | None]] | None = None  # a slice of (model, fold, seed or every seed); None: all
    max_minutes: float | None = None  # stop cleanly at the first epoch boundary past this
    allow_dirty: bool = False  # rows from an uncommitted tree may enter a leaderboard kept in git
    weights_from: Path | None = None  # score this run's kept weights instead of training (benchmark.reuse)
    notify: Callable[[str], None] | None = None  # where the cost estimate goes before jobs start


def run(config: RunConfig) -> pd.DataFrame:
    """Run the (model, fold) jobs and return the summary (one row per model).

    Raises Incomplete (after writing what finished) when --max-minutes stopped jobs.
    """
    deadline = time.time() + 60 * config.max_minutes if config.max_minutes is not None else None
    for name in config.models:
        check_model(name, config.protocol)
    if config.leaderboard is not None:  # before hours of training, not after
        require_clean(config.leaderboard, [code_commit()], config.allow_dirty)
    device = resolve_device(config.device)
    dataset = protocol_dataset(config.protocol, config.data)
    with hold(config.out):  # one process per run directory
        return _run_locked(config, dataset, device, deadline)


def _run_locked(config: RunConfig, dataset: Dataset, device: str, deadline: float | None) -> pd.DataFrame:
    meta = _prepare(config, dataset, device)
    handler = _log_to(config.out / "log.txt")
    try:
        folds = _splits(config, dataset)
        # Absolute: a remote worker's working directory is not the driver's.
        out = Path(config.out).resolve()
        source = Path(config.weights_from).resolve() if config.weights_from is not None else None
        ctx = JobContext(config.protocol, tuple(folds), out, device, deadline, config.restart_damaged, source)
        jobs = select_jobs(config, len(folds))
        if source is not None:
            meta["weights_from"] = check_source(source, config.protocol, dataset, folds, jobs)
            atomic_write_text(config.out / RUN_JSON, json.dumps(meta, indent=2) + "\n")
        log.info("run %s: %d jobs on %s (%s)", config.out, len(jobs), dataset.name, meta["device_name"])
        if config.notify is not None:
            only = {(j.model, j.fold, j.seed) for j in jobs}
            if source is not None:
                estimate = f"{len(jobs)} job(s) scoring the kept weights of {source}: no training"
            else:
                planned = plan(config.models, config.protocol, dataset, folds, torch.device(device), only=only)
                estimate = describe(planned)
            log.info(estimate)
            config.notify(estimate)
        with Reporter(enabled=config.progress) as reporter:
            results = _executor(config).execute(jobs, ctx, dataset, reporter, **(config.executor_options or {}))
        done = [r for r in results if r is not None]
        summary = None
        if done:
            board, dirty = config.leaderboard, config.allow_dirty
            summary = finish(config.out, done, config.protocol, meta, board, len(folds), dirty)
        if len(done) < len(jobs):
            stopped = ", ".join(j.key for j, r in zip(jobs, results) if r is None)
            raise Incomplete(
                f"stopped at the --max-minutes limit: {len(done)} of {len(jobs)} job(s) finished "
                f"(unfinished: {stopped}); continue with the same command plus --out "
                f"{config.out} --resume"
            )
        return summary
    finally:
        logging.getLogger("ichbench").removeHandler(handler)
        handler.close()


def select_jobs(config: RunConfig, n_folds: int) -> list[Job]:
    """Every (model, fold) job, or the --jobs slice of them (checked against the models, folds and seeds), once
    per seed of [cv] seeds unless the slice names one (seed by seed, so that the first seed's table is complete
    first)."""
    seeds = job_seeds(config.protocol)
    if config.jobs is None:
        return [Job(m, f, s) for s in seeds for m in config.models for f in range(n_folds)]
    bad = [
        job_name(m, f, s)
        for m, f, s in config.jobs
        if m not in config.models or not 0 <= f < n_folds or (s is not None and s not in seeds)
    ]
    if bad:
        known = ", ".join(str(s) for s in seeds if s is not None) or "none: the protocol has no [cv] seeds"
        raise RunError(
            f"--jobs {', '.join(bad)}: no such job (models {', '.join(config.models)}, folds 0..{n_folds - 1}, "
            f"seeds {known})"
        )
    return [Job(m, f, s) for s in seeds for m, f, only in config.jobs if only is None or only == s]


def parse_jobs(text: str) -> list[tuple[str, int, int | None]]:
    """'unet:0,unet:1:seed2' -> [('unet', 0, None), ('unet', 1, 2)]; a clear error for anything else."""
    jobs = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        match = JOB_NAME.fullmatch(item)
        if match is None:
            raise RunError(f"--jobs {item!r}: expected MODEL:FOLD or MODEL:FOLD:seedN, e.g. unet:0 or unet:0:seed1")
        model, fold, seed = match.groups()
        jobs.append((model, int(fold), None if seed is None else int(seed)))
    if not jobs:
        raise RunError("--jobs names no job")
    return jobs


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
        **config.protocol.table_hashes(on_phantom=config.data is None),
        "dataset": dataset.name,
        "data": str(Path(config.data).resolve()) if config.data is not None else None,
        "dataset_fingerprint": dataset.fingerprint,
        "models": config.models,
        "jobs": [job_name(*job) for job in config.jobs] if config.jobs is not None else None,
        "excluded": list(dataset.excluded),
        **slice_shapes(dataset),
        "device": device,
        "device_name": describe_device(device),
        "commit": code_commit(),
        **versions(),
    }
    existing = out / RUN_JSON
    if existing.exists():
        if not config.resume:
            raise RunError(f"{out}: a run already lives here; pass --resume to continue it, or choose another --out")
        before = json.loads(existing.read_text())
        for key in ("protocol_hash", "dataset_fingerprint", "models", "jobs"):
            if before.get(key) != meta[key]:
                raise RunError(f"{existing}: cannot resume: {key} was {before.get(key)!r}, now {meta[key]!r}")
        meta["created"] = before["created"]
        if before.get("commit") and before["commit"] != meta["commit"]:  # resumed under other code: say so
            meta["commit"] = f"{before['commit'].split('>')[0]}>{meta['commit']}"
    elif config.resume:
        raise RunError(f"{out}: nothing to resume (no run.json)")
    else:
        meta["created"] = datetime.now(UTC).isoformat(timespec="seconds")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / RUN_JSON, json.dumps(meta, indent=2) + "\n")
    atomic_write_text(out / PROTOCOL, config.protocol.to_toml())
    return meta


def slice_shapes(dataset: Dataset) -> dict[str, list[int]]:
    """The slice size the models see (the data set as loaded, after [data] scale) and the native one, from
    the first subject: a bundle resamples any scan to the first and makes its masks at the scan's own size."""
    first = dataset.subjects[0]
    native = first.native_mask if first.native_mask is not None else first.mask
    return {"slice_shape": list(first.image.shape[1:]), "native_shape": list(native.shape[1:])}


def _splits(config: RunConfig, dataset: Dataset) -> list:
    path = config.out / SPLITS
    source = config.splits if config.splits is not None else (path if path.exists() else None)
    folds = folds_for(dataset, config.protocol.cv, source)
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
