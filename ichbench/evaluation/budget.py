"""The budget of a model's row: what its folds cost and whether they had finished learning.

After "nnU-Net Revisited" (Isensee et al., 2024): a row shows its compute and memory beside its scores,
so that a gain bought with compute is not read as a better architecture, and an under-trained
baseline shows as one. Every budget column is defined here once; the job results (training.job)
record the raw numbers.
"""

from __future__ import annotations

import math

import numpy as np

from ichbench.protocol import Protocol
from ichbench.rundir import JobResult

# (column, label, description) in the order rows, the page and the docs show them.
BUDGET = (
    ("gflop_per_window", "GFLOP/win", "forward GFLOP of one window"),
    (
        "train_pflop",
        "train PFLOP",
        "training PFLOP over all folds: 3 forwards per training window seen, 1 per validation window",
    ),
    ("train_hours", "train h", "training hours over all folds (epochs, validation and checkpoints)"),
    ("infer_hours", "infer h", "inference hours over all folds (predicting and scoring the test subjects)"),
    (
        "peak_memory_mb",
        "peak MiB",
        "the largest peak memory of a fold: CUDA max allocated, or the process's peak RSS on a CPU",
    ),
    (
        "still_learning",
        "still learning",
        "share of folds that kept their last epoch or whose validation loss reached a new low in the last "
        "quarter of its epochs",
    ),
    (
        "threshold_at_edge",
        "thr at edge",
        "share of folds whose searched threshold is the lowest or highest value of the grid",
    ),
    (
        "lesion_at_edge",
        "lesion at edge",
        "share of folds whose validation-decided lesion filter is the grid's largest area or probability",
    ),
)
BUDGET_COLUMNS = [name for name, _, _ in BUDGET]
SHARES = ("still_learning", "threshold_at_edge", "lesion_at_edge")


def fmt_budget(name: str, value: object) -> str:
    """A budget value as tables show it: shares in percent, memory in whole MiB, the rest to 3 digits."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "-"
    if math.isnan(number):
        return "-"
    if name in SHARES:
        return f"{number:.0%}"
    return f"{number:.0f}" if name == "peak_memory_mb" else f"{number:.3g}"


def still_learning(result: JobResult, select: str) -> bool | None:
    """A fold still learning: its selection rule kept its last epoch, or its validation loss reached a new
    low in the last quarter of its epochs. Under `select = "last"` the last epoch is kept by rule, not
    because it was best, so only the validation loss counts. None for a model that does not train."""
    history = result.history
    if not history:
        return None
    if select != "last" and result.best_epoch == len(history) - 1:
        return True
    losses = np.array([h.get("val_loss", math.nan) for h in history], float)
    tail = max(1, math.ceil(len(losses) / 4))
    head, last = losses[:-tail], losses[-tail:]
    if len(head) == 0 or np.isnan(last).all() or np.isnan(head).all():
        return False
    return bool(np.nanmin(last) < np.nanmin(head))


def threshold_at_edge(result: JobResult, protocol: Protocol) -> bool | None:
    """Whether a fold's searched threshold is the grid's lowest or highest value (None: no search)."""
    grid = protocol.post.threshold_grid
    if not protocol.post.threshold_search or not grid or not result.history:
        return None
    return bool(math.isclose(result.threshold, min(grid)) or math.isclose(result.threshold, max(grid)))


def lesion_at_edge(result: JobResult) -> bool | None:
    """Whether a fold's validation-decided lesion filter lies on its grid's edge (None: no search)."""
    return None if result.lesion_filter is None else bool(result.lesion_filter["at_edge"])


def summarize_budget(results: list[JobResult], protocol: Protocol) -> dict[str, float]:
    """The budget columns of one model's fold results (NaN where the results predate the recording)."""

    def total(key: str) -> float:
        values = [getattr(r, key) for r in results]
        return math.nan if any(v is None for v in values) else float(sum(values))

    def share(flags: list[bool | None]) -> float:
        known = [f for f in flags if f is not None]
        return float(np.mean(known)) if known else math.nan

    peaks = [r.peak_memory_mb for r in results]
    gflop = results[0].gflop_per_window
    return {
        "gflop_per_window": math.nan if gflop is None else gflop,
        "train_pflop": total("train_pflop"),
        "train_hours": total("train_seconds") / 3600,
        "infer_hours": total("infer_seconds") / 3600,
        "peak_memory_mb": math.nan if any(p is None for p in peaks) else float(max(peaks)),
        "still_learning": share([still_learning(r, protocol.training.select) for r in results]),
        "threshold_at_edge": share([threshold_at_edge(r, protocol) for r in results]),
        "lesion_at_edge": share([lesion_at_edge(r) for r in results]),
    }


def pareto_front(cost: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Which points no other point beats: none costs at most as much and scores at least as high, one of
    them strictly. NaN points are never on the front."""
    cost, score = np.asarray(cost, float), np.asarray(score, float)
    ok = ~(np.isnan(cost) | np.isnan(score))
    front = np.zeros(len(cost), bool)
    for i in np.flatnonzero(ok):
        better = ok & (cost <= cost[i]) & (score >= score[i]) & ((cost < cost[i]) | (score > score[i]))
        front[i] = not better.any()
    return front
