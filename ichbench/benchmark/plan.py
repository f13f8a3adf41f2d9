"""`ichbench plan`: what a benchmark costs before anything trains.

Per (model, fold) job: training and validation windows per epoch (the protocol's undersampling and
select rule), test windows, forward GFLOP per window (counted with torch's FlopCounterMode on the
meta device, not tabled), and the job's total PFLOP (a training window costs three forwards: forward
and backward). A short calibration (a few optimiser steps per model at the protocol's batch, on the
current device) gives an estimated wall time here; the lower bound on named GPUs is total FLOP / their
peak dense bf16 rate.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

import torch

from ichbench.data.dataset import Dataset
from ichbench.data.splits import Fold
from ichbench.inference.infer import precision_for, to_input
from ichbench.models.contract import trainable
from ichbench.models.cost import BACKWARD, forward_gflop, pflop
from ichbench.models.registry import build
from ichbench.protocol import Protocol
from ichbench.training.job import job_seeds
from ichbench.training.step import make_step
from ichbench.training.train import job_seed
from ichbench.training.validation import on_windows
from ichbench.training.windows import grid_windows, select_windows

# Published peak dense bf16 tensor throughput (TFLOP/s, without sparsity), SXM parts where there are two.
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0}
# A step's cost per window falls with the batch on a CPU (unet at 64 px: 53 ms at batch 4, 28 at 16), so
# the calibration times the protocol's batch; the cap keeps `paper`'s 32 windows of 160 px from taking
# minutes per model on a CPU. The median of a few steps resists one step slowed by other work.
CALIBRATION_BATCH = 16
TIMED_STEPS = 3


@dataclass
class JobPlan:
    """The cost of one (model, fold) job."""

    model: str
    fold: int
    train_windows: int  # per epoch
    val_windows: int  # per epoch
    once_windows: int  # predicted once: the test slices (and, when validating on windows, the final validation)
    gflop_per_window: float
    pflop: float
    seconds_here: float | None = None
    seed: int | None = None  # one of [cv] seeds (each costs the same)


def window_counts(protocol: Protocol, dataset: Dataset, fold: Fold) -> tuple[int, int, int]:
    """(training windows per epoch, validation windows per epoch, windows predicted once) of a fold."""
    size, stride, seed = protocol.windows.size, protocol.windows.stride, job_seed(protocol, fold.fold)
    train, val, test = dataset.subset(fold.train), dataset.subset(fold.val), dataset.subset(fold.test)
    n_train = len(select_windows(train, size, stride, seed)[1])
    once = grid_windows(test, protocol)
    if on_windows(protocol.training.select):
        return (
            n_train,
            len(select_windows(val, size, stride, seed, negatives=False)[1]),
            once + grid_windows(val, protocol),
        )
    return n_train, grid_windows(val, protocol), once


def calibration_batch(protocol: Protocol) -> int:
    """The batch the calibration times: the protocol's, capped so that it stays seconds on a CPU."""
    return min(protocol.training.batch_size, CALIBRATION_BATCH)


def seconds_per_window(name: str, protocol: Protocol, device: torch.device, precision: str) -> float:
    """Measured seconds of one training window (forward, backward, optimiser step) on this device, timed
    through the Step that training uses (the recipe's optimiser, loss and memory layout, in `precision`)."""
    step = make_step(build(name, protocol), protocol, device, precision)
    size, batch = protocol.windows.size, calibration_batch(protocol)
    x = to_input(torch.randint(0, 256, (batch, protocol.input.count, size, size), dtype=torch.uint8), device)
    y = (torch.rand(batch, 1, size, size, device=device) > 0.9).float()
    step.model.train()
    timings = []
    for _ in range(1 + TIMED_STEPS):  # the first step warms up allocators and kernels
        before = step.seconds
        step(x, y)
        timings.append(step.seconds - before)
    return statistics.median(timings[1:]) / batch


def plan(
    models: list[str],
    protocol: Protocol,
    dataset: Dataset,
    folds: list[Fold],
    device: torch.device,
    calibrate: bool = True,
    only: set[tuple[str, int, int | None]] | None = None,
) -> dict:
    """The plan of every (model, fold, seed) job (or of the `only` ones), with totals (see the module docstring)."""
    counts = {f.fold: window_counts(protocol, dataset, f) for f in folds}
    precision = precision_for(protocol.training.precision, device)  # what a job here would resolve
    epochs = protocol.training.epochs
    jobs = []
    for name in [m for m in models if only is None or any(m == j for j, *_ in only)]:
        learned = trainable(build(name, protocol))
        gflop = forward_gflop(name, protocol)
        per_window = seconds_per_window(name, protocol, device, precision) if calibrate and learned else None
        for f in folds:
            n_train, n_val, once = counts[f.fold]
            trained, predicted = (epochs * n_train, epochs * n_val + once) if learned else (0, n_val + once)
            seconds = None
            if per_window is not None:
                seconds = per_window * (epochs * (n_train + n_val / BACKWARD) + once / BACKWARD)
            cost = pflop(gflop, trained, predicted)
            for seed in job_seeds(protocol):
                if only is not None and (name, f.fold, seed) not in only:
                    continue
                row = JobPlan(name, f.fold, n_train if learned else 0, n_val, once, gflop, cost, seconds, seed)
                jobs.append(row)
    total = sum(j.pflop for j in jobs)
    return {
        "protocol": protocol.name,
        "protocol_hash": protocol.hash,
        "dataset": dataset.name,
        "device": str(device),
        "precision": precision,
        "epochs": epochs,
        "jobs": [asdict(j) for j in jobs],
        "total_pflop": total,
        "hours_here": sum(j.seconds_here or 0.0 for j in jobs) / 3600 if calibrate else None,
        "gpu_lower_bound_hours": {gpu: total * 1e15 / (peak * 1e12) / 3600 for gpu, peak in PEAK_BF16_TFLOPS.items()},
    }


def describe(doc: dict) -> str:
    """One paragraph a person reads before a run starts."""
    here = f"about {doc['hours_here']:.2f} h on this {doc['device']}" if doc["hours_here"] is not None else ""
    gpus = ", ".join(f"{g} {h * 60:.1f} min" for g, h in doc["gpu_lower_bound_hours"].items())
    return (
        f"plan: {len(doc['jobs'])} job(s), {doc['epochs']} epochs, {doc['total_pflop']:.3g} PFLOP, "
        f"{doc['precision']}; {here}"
        f"{'; ' if here else ''}lower bound at peak bf16: {gpus}"
    )
