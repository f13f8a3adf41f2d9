"""One job: train a model on a fold's training windows, keep the best epoch on its validation subjects.

Epochs end with atomic checkpoints (weights, optimiser, history; see CHECKPOINT_SECONDS for how
often); a resumed job continues from the last and, because every epoch's randomness is seeded from
(seed, fold, epoch), ends exactly as an uninterrupted one would on the same machine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ichbench.atomic import recorded_sha256
from ichbench.data.dataset import Subject
from ichbench.errors import RunError
from ichbench.inference.infer import prepare_model, to_input
from ichbench.models.contract import trainable
from ichbench.models.registry import build
from ichbench.models.weights import load_checked, save_checked
from ichbench.protocol import Protocol
from ichbench.rundir import BEST, CHECKPOINT, read_result
from ichbench.training.augment import augment
from ichbench.training.recipe import set_lr
from ichbench.training.step import Step, make_step
from ichbench.training.validation import best_point, improves, on_windows, validate_epoch, validate_slices
from ichbench.training.windows import WindowSampler, grid_windows, training_windows

EpochCallback = Callable[[dict], None]
# A checkpoint (weights and optimiser state: 0.3 GB for the smp models, about a second to write) after the
# first epoch, the last, one at a deadline, and otherwise at most once a minute: short epochs are not
# dominated by writing them, and a resumed job reruns at most a minute of (deterministic) epochs.
CHECKPOINT_SECONDS = 60.0


@dataclass
class Trained:
    """What training leaves: the best model, its epoch and threshold, and the history."""

    model: torch.nn.Module
    best_epoch: int
    threshold: float
    history: list[dict] = field(default_factory=list)
    fitted: dict = field(default_factory=dict)
    curve: list[dict] = field(default_factory=list)  # validation Dice/Jaccard against threshold
    weights_from: dict = field(default_factory=dict)  # reused weights: their SHA-256, and the code and machine


def job_seed(protocol: Protocol, fold: int) -> int:
    """The seed of one (protocol, fold) job; the same for every model, so they see the same windows."""
    return protocol.training.seed * 1000 + fold


def build_model(name: str, protocol: Protocol, fold: int, device: torch.device) -> torch.nn.Module:
    """A freshly initialised model (initialisation seeded per job)."""
    torch.manual_seed(job_seed(protocol, fold))
    return prepare_model(build(name, protocol), device)


class TimeLimit(Exception):
    """Raised at an epoch boundary when the run's deadline has passed; everything is checkpointed."""


def train(
    name: str,
    protocol: Protocol,
    fold: int,
    train: list[Subject],
    val: list[Subject],
    device: torch.device,
    job_dir: Path,
    on_epoch: EpochCallback | None = None,
    deadline: float | None = None,
    weights: Path | None = None,
    precision: str = "fp32",
) -> Trained:
    """Train (or, for non-learned models, fit) one job in `precision` (resolved once by the job, which
    records it), resuming from its checkpoint in job_dir (rundir.CHECKPOINT) if there is one.

    With a deadline (time.time() seconds), stops with TimeLimit after the first epoch that ends past it.
    With `weights`, a finished job of another run that trained under the same weights hash (see
    benchmark.reuse), a learned model takes its kept weights and history instead of training again.
    """
    model = build_model(name, protocol, fold, device)
    if not trainable(model):
        fitted = model.fit_subjects(train + val)
        save_checked(job_dir / BEST, model.state_dict())
        curve = validate_slices(model, val, protocol, device, precision)[2]
        return Trained(model, 0, protocol.post.threshold, [], fitted, curve)
    if weights is not None:
        return _reused(model, weights, val, protocol, device, job_dir, precision)
    seed = job_seed(protocol, fold)
    step = make_step(model, protocol, device, precision)
    optimizer = step.optimizer
    state = _load(job_dir / CHECKPOINT, device)
    history: list[dict] = state["history"] if state else []
    best = (state["best_epoch"], state["best_score"]) if state else (-1, -math.inf)
    best_curve: list[dict] = state["best_curve"] if state else []
    if state:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    size, stride = protocol.windows.size, protocol.windows.stride
    fresh = protocol.windows.negatives == "epoch"
    sampler = WindowSampler(
        training_windows(train, size, stride, seed, device, spec=protocol.input, fresh=fresh),
        protocol.training.batch_size,
        seed,
        foreground=protocol.windows.foreground,
    )
    val_windows = None
    if on_windows(protocol.training.select):
        val_windows = training_windows(val, size, stride, seed, device, False, protocol.input)
    n_val = len(val_windows) if val_windows is not None else grid_windows(val, protocol)
    saved_at = -math.inf
    for epoch in range(len(history), protocol.training.epochs):
        start, step.seconds = time.perf_counter(), 0.0
        lr = set_lr(optimizer, epoch, protocol.training)
        train_loss, seen = train_epoch(step, sampler, protocol, seed, epoch)
        trained_at = time.perf_counter()
        scored = validate_epoch(model, val, val_windows, protocol, device, precision)
        end = time.perf_counter()
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "windows": seen,  # training windows of this epoch: the budget's arithmetic (models.cost)
            "val_windows": n_val,
            "lr": lr,
            **scored.fields,
            "train_seconds": trained_at - start,
            "step_seconds": step.seconds,  # forward, backward and step; the rest of train_seconds is data
            "val_seconds": end - trained_at,
            "seconds": end - start,
            "training_precision": step.precision,
        }
        history.append(row)
        if improves(scored.score, best[1], protocol.training.select):
            best, best_curve = (epoch, scored.score), scored.curve
            if protocol.training.select != "last":  # the last epoch's weights are written once, below
                save_checked(job_dir / BEST, model.state_dict())
        stop = deadline is not None and time.time() >= deadline and epoch + 1 < protocol.training.epochs
        if stop or epoch + 1 == protocol.training.epochs or time.monotonic() - saved_at >= CHECKPOINT_SECONDS:
            saved_at = time.monotonic()
            _checkpoint(job_dir, model, optimizer, history, best, best_curve)
            row["checkpoint_seconds"] = time.monotonic() - saved_at
        if on_epoch:
            on_epoch(row)
        if stop:
            raise TimeLimit(f"{job_dir}: stopped after epoch {epoch} at the time limit")
    if protocol.training.select == "last":
        save_checked(job_dir / BEST, model.state_dict())
    else:
        model.load_state_dict(load_checked(job_dir / BEST, device))
    return _kept(model, best[0], history, best_curve, val, protocol, device, precision)


def _kept(
    model,
    epoch: int,
    history: list[dict],
    curve: list[dict],
    val: list[Subject],
    protocol: Protocol,
    device,
    precision: str,
) -> Trained:
    """The kept epoch's model with its threshold: the grid point of its validation curve under threshold_search."""
    if on_windows(protocol.training.select) or not curve:
        # The curve (for threshold_search and the report) is computed once, for the kept epoch.
        curve = validate_slices(model, val, protocol, device, precision)[2]
    threshold = protocol.post.threshold
    if protocol.post.threshold_search and curve:
        threshold = best_point(curve, protocol.post.threshold_objective)["threshold"]
    return Trained(model, epoch, threshold, history, curve=curve)


def _reused(
    model, source: Path, val: list[Subject], protocol: Protocol, device, job_dir: Path, precision: str
) -> Trained:
    """Another run's finished job: its kept weights (checked against their SHA-256) and training history; the
    validation curve and threshold are computed again, since post-processing may differ."""
    model.load_state_dict(load_checked(source / BEST, device))
    save_checked(job_dir / BEST, model.state_dict())
    done = read_result(source)
    if done is None:
        raise RunError(f"{source}: the job has no result (benchmark.reuse checks it before)")
    # No curve handed on: the grid or its objective may differ from the source's, so it is computed again.
    kept = _kept(model, done.best_epoch, done.history, [], val, protocol, device, precision)
    sha = recorded_sha256(source / BEST)
    kept.weights_from = {"sha256": sha, "code": done.code, "device_name": done.device_name}
    return kept


def _checkpoint(job_dir: Path, model, optimizer, history: list[dict], best: tuple, best_curve: list[dict]) -> None:
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "history": history}
    state |= {"best_epoch": best[0], "best_score": best[1], "best_curve": best_curve}
    save_checked(job_dir / CHECKPOINT, state)


def _load(path: Path, device: torch.device) -> dict | None:
    return load_checked(path, device) if path.exists() else None


def train_epoch(step: Step, sampler: WindowSampler, protocol: Protocol, seed: int, epoch: int) -> tuple[float, int]:
    """One pass over the sampler's batches (cut, augment, step): the mean training loss and windows seen."""
    torch.manual_seed(seed * 100_003 + epoch)  # dropout and any other global randomness of this epoch
    generator = torch.Generator().manual_seed(seed * 100_019 + epoch)  # augmentation
    step.model.train()
    total, count = 0.0, 0
    device = step.device
    for images, masks in sampler.epoch(epoch):
        x, y = augment(to_input(images, device), masks.to(device).float(), protocol.augmentation, generator)
        loss = step(x, y)
        total += float(loss) * len(x)
        count += len(x)
    return total / max(count, 1), count
