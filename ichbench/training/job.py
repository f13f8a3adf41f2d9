"""One benchmark job, (model, fold): train, keep the best epoch, score the test fold, save the result."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ichbench.atomic import atomic_save, remove_checked, set_aside, verify_checked
from ichbench.data.dataset import Dataset
from ichbench.data.splits import Fold
from ichbench.environment import code_state, describe_device
from ichbench.errors import DamagedFile
from ichbench.evaluation.scoring import score_subjects
from ichbench.inference.infer import precision_for
from ichbench.models.cost import forward_gflop, pflop
from ichbench.protocol import Protocol
from ichbench.rundir import BEST, CHECKPOINT, JOBS, PREDICTIONS, JobResult, job_path, read_result, write_result
from ichbench.training.lesions import search_lesions
from ichbench.training.memory import peak_mb, reset_peak
from ichbench.training.train import TimeLimit, train


@dataclass(frozen=True)
class Job:
    """A (model, fold) pair, and the training seed when the protocol asks for several ([cv] seeds)."""

    model: str
    fold: int
    seed: int | None = None

    @property
    def key(self) -> str:
        """Stable name, e.g. unet/fold0 (or unet/seed1/fold0)."""
        return job_path(Path(), self.model, self.fold, self.seed).relative_to(JOBS).as_posix()


def job_seeds(protocol: Protocol) -> list[int | None]:
    """The seeds each (model, fold) trains under: [cv] seeds, or [None] for one unseeded job."""
    return list(protocol.cv.seeds) or [None]


def job_name(model: str, fold: int, seed: int | None = None) -> str:
    """The name --jobs and merge use for a job: unet:0, or unet:0:seed1 for one seed of several."""
    return f"{model}:{fold}" + ("" if seed is None else f":seed{seed}")


def seeded(protocol: Protocol, seed: int | None) -> Protocol:
    """The protocol a job of this seed trains under: [training] seed set to it (unchanged for None)."""
    return protocol if seed is None else replace(protocol, training=replace(protocol.training, seed=seed))


@dataclass(frozen=True)
class JobContext:
    """Everything a job needs besides the data set: picklable, so remote executors can ship it."""

    protocol: Protocol
    folds: tuple[Fold, ...]
    run_dir: Path
    device: str
    deadline: float | None = None  # time.time() after which jobs stop at their next epoch boundary
    restart_damaged: bool = False  # a job whose checkpoint is damaged restarts from scratch
    weights_from: Path | None = None  # a run whose jobs' kept weights are scored instead of training (--weights-from)

    def job_dir(self, job: Job) -> Path:
        """Where a job keeps its checkpoints and result."""
        return job_path(self.run_dir, job.model, job.fold, job.seed)

    def source_dir(self, job: Job) -> Path | None:
        """The --weights-from run's folder of the same job, or None when this run trains its own."""
        return None if self.weights_from is None else job_path(self.weights_from, job.model, job.fold, job.seed)


def finished(ctx: JobContext, job: Job) -> JobResult | None:
    """The saved result of a finished job, or None."""
    return read_result(ctx.job_dir(job))


def run_job(
    job: Job,
    ctx: JobContext,
    dataset: Dataset,
    on_epoch: Callable[[dict], None] | None = None,
    on_start: Callable[[], None] | None = None,
) -> JobResult | None:
    """Run (or resume) a job and return its result; a finished job is not run again. None: the run's
    deadline stopped it (or it passed before the job began), with everything checkpointed. on_start is
    called only when training really begins."""
    done = finished(ctx, job)
    if done is not None:
        return done
    if ctx.deadline is not None and time.time() >= ctx.deadline:
        return None
    if on_start is not None:
        on_start()
    start = time.perf_counter()
    job_dir = ctx.job_dir(job)
    job_dir.mkdir(parents=True, exist_ok=True)
    if ctx.restart_damaged:
        _set_aside_damaged(job_dir)
    fold = ctx.folds[job.fold]
    device = torch.device(ctx.device)
    protocol = seeded(ctx.protocol, job.seed)
    # Resolved once: training, validation and scoring compute in it, and the result records it.
    precision = precision_for(protocol.training.precision, device)
    reset_peak(device)
    try:
        trained = train(
            job.model,
            protocol,
            job.fold,
            dataset.subset(fold.train),
            dataset.subset(fold.val),
            device,
            job_dir,
            on_epoch,
            ctx.deadline,
            ctx.source_dir(job),
            precision,
        )
    except TimeLimit:
        return None
    except DamagedFile as exc:
        raise DamagedFile(
            f"{exc}. Job {job.key} cannot resume from it; rerun with --resume --restart-damaged to restart "
            "that job from scratch (the damaged files are kept as *.damaged)"
        ) from None
    choice, searched_at = None, time.perf_counter()
    if protocol.post.lesion_search:  # decided on the validation subjects, like the threshold (training time)
        val = dataset.subset(fold.val)
        choice = search_lesions(trained.model, val, protocol, device, precision, trained.threshold)
    trained_at = time.perf_counter()
    tags = {"model": job.model, "fold": job.fold, **({} if job.seed is None else {"seed": job.seed})}
    test, scored = dataset.subset(fold.test), choice.applied(protocol) if choice else protocol
    scores = score_subjects(trained.model, test, scored, device, trained.threshold, tags, precision=precision)
    infer_seconds = time.perf_counter() - trained_at
    # Epochs run before an interruption count too: their time is in the history.
    # The lesion search is validation: it counts as training time.
    train_seconds = sum(h["seconds"] for h in trained.history) if trained.history else searched_at - start
    train_seconds += trained_at - searched_at
    result = JobResult(
        model=job.model,
        fold=job.fold,
        seed=job.seed,
        params=sum(p.numel() for p in trained.model.parameters()),
        best_epoch=trained.best_epoch,
        epochs=len(trained.history),
        threshold=trained.threshold,
        fitted=trained.fitted,
        seconds=train_seconds + infer_seconds,
        **budget(job.model, protocol, trained.history, train_seconds, infer_seconds, device),
        training_precision=precision,
        device_name=describe_device(str(device)),
        threads=torch.get_num_threads(),
        code=code_state().record(),  # the code this process loaded: commit, clean, a dirty tree's patch
        # The weights' training seconds and PFLOP are in the history taken with them.
        weights_from=(
            {"job": f"{ctx.weights_from.name}/{job.key}", **trained.weights_from} if trained.weights_from else None
        ),
        history=trained.history,
        threshold_curve=trained.curve,
        lesion_filter=choice.record() if choice else None,
        per_slice=scores.per_slice,
        per_subject=scores.per_subject,
    )
    atomic_save(job_dir / PREDICTIONS, lambda p: _save_masks(p, scores.masks))
    write_result(job_dir, result)
    # A finished job never resumes: its optimiser state (about 3x the weights) only fills the disk.
    remove_checked(job_dir / CHECKPOINT)
    return result


def budget(
    model: str, protocol: Protocol, history: list[dict], train_seconds: float, infer_seconds: float, device
) -> dict:
    """A job's budget: forward GFLOP per window, training PFLOP on the windows it saw (validation included),
    training and inference seconds, and the peak memory since the job began (see training.memory)."""
    gflop = forward_gflop(model, protocol)
    trained = sum(h.get("windows", 0) for h in history)
    validated = sum(h.get("val_windows", 0) for h in history)
    return {
        "gflop_per_window": gflop,
        "train_pflop": pflop(gflop, trained, validated),
        "train_seconds": train_seconds,
        "infer_seconds": infer_seconds,
        "peak_memory_mb": peak_mb(device),
    }


def _set_aside_damaged(job_dir: Path) -> None:
    """Set a job's checkpoint and best weights aside when either is damaged, so the job starts over."""
    files = [job_dir / CHECKPOINT, job_dir / BEST]
    try:
        for path in files:
            if path.exists():
                verify_checked(path)
    except DamagedFile as exc:
        for path in files:
            set_aside(path)
        warnings.warn(f"{exc}; restarting {job_dir} from scratch", stacklevel=2)


def _save_masks(path: Path, masks: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **{sid: np.asarray(m, np.uint8) for sid, m in masks.items()})
