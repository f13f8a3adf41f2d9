"""Validation after each epoch, and which epoch is kept (the protocol's [training] select).

- `val_soft_jaccard` (the original CT-ICH code's rule): Keras' ModelCheckpoint on `val_jaccard_loss`,
  the soft Jaccard loss 1 - sum(y p) / sum(1 - (1 - y)(1 - p)) of each batch of the validation
  subjects' windows that contain hemorrhage (the undersampling rule, positive windows only), batches
  of the training batch size in a fixed order, averaged weighted by batch size as Keras does; the
  lowest loss wins, ties keep the earlier epoch (save_best_only compares with a strict <).
- `val_jaccard`: every window of every slice of the validation subjects, stitched and post-processed,
  scored with the paper's per-subject Jaccard at the protocol threshold (or, with threshold_search,
  at the epoch's best grid threshold); the highest wins, ties keep the later epoch.
- `last`: the final epoch, as nnU-Net keeps it. The validation windows' losses are still recorded each
  epoch (as under `val_soft_jaccard`) for the training curves; they choose nothing. For short runs
  whose validation loss is still falling, where picking an epoch on a few validation subjects mostly
  picks noise.

The threshold search ([post] threshold_search) picks the grid threshold of the highest validation
Jaccard: the paper's per-subject Jaccard over slices with hemorrhage (`threshold_objective = "paper"`,
blind to false positives on healthy slices and in hemorrhage-free subjects), or one Jaccard pooled over
every pixel of every validation slice (`"pooled"`), where those false positives count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ichbench.data.dataset import Subject
from ichbench.data.inputs import subject_input
from ichbench.evaluation.metrics import counts_at, dice, jaccard, paper_scores
from ichbench.inference.infer import autocast, threshold_counts, to_input, window_probs
from ichbench.models.contract import uses_morphology
from ichbench.protocol import Protocol
from ichbench.training.windows import WindowSampler, WindowSet


@dataclass
class EpochScore:
    """One epoch's validation: history fields, the selection score (higher is better), the threshold curve."""

    fields: dict
    score: float
    curve: list[dict] = field(default_factory=list)


def on_windows(select: str) -> bool:
    """Whether a select rule validates on the positive validation windows (rather than whole slices)."""
    return select in ("val_soft_jaccard", "last")


def improves(score: float, best: float, select: str) -> bool:
    """Does this epoch replace the best one (see the module docstring for ties)."""
    if select == "last":
        return True
    if math.isnan(score):
        return False
    return score > best if select == "val_soft_jaccard" else score >= best


def validate_epoch(
    model, val: list[Subject], windows: WindowSet | None, protocol: Protocol, device: torch.device, precision: str
) -> EpochScore:
    """The validation of one epoch under the protocol's select rule, in the job's precision."""
    if on_windows(protocol.training.select):
        bce, soft = validate_windows(model, windows, protocol.training.batch_size, device, precision)
        return EpochScore({"val_loss": bce, "val_jaccard_loss": soft}, -soft)
    loss, jaccard, curve = validate_slices(model, val, protocol, device, precision)
    tuned = best_point(curve, protocol.post.threshold_objective)
    fields = {
        "val_loss": loss,
        "val_jaccard": jaccard,
        "val_best_threshold": tuned["threshold"],
        "val_best_jaccard": tuned["jaccard"],
    }
    return EpochScore(fields, tuned["jaccard"] if protocol.post.threshold_search else jaccard, curve)


def validate_windows(
    model, windows: WindowSet, batch_size: int, device: torch.device, precision: str = "fp32"
) -> tuple[float, float]:
    """Mean BCE and the Keras-averaged soft Jaccard loss over a window set, in its own order."""
    if not len(windows):
        return math.nan, math.nan
    sampler = WindowSampler(windows, batch_size, seed=0)
    model.eval()
    bce = soft = 0.0
    with torch.inference_mode(), autocast(device, precision):
        for start in range(0, len(windows), batch_size):
            images, masks = sampler.cut(windows.index[start : start + batch_size])
            y = masks.to(device).float()
            logits = model(to_input(images, device)).float()
            p = torch.sigmoid(logits)
            bce += float(F.binary_cross_entropy_with_logits(logits, y, reduction="sum")) / y[0].numel()
            union = (1 - (1 - y) * (1 - p)).sum()
            soft += float(1 - (y * p).sum() / union) * len(y)
    return bce / len(windows), soft / len(windows)


def validate_slices(
    model, subjects: list[Subject], protocol: Protocol, device: torch.device, precision: str = "fp32"
) -> tuple:
    """Mean window BCE, mean per-subject paper Jaccard at the protocol threshold, and the Dice/Jaccard
    curve against the grid thresholds, over every slice of the validation subjects (with
    `threshold_objective = "pooled"`, each point also carries the pooled Dice and Jaccard)."""
    grid = [*protocol.post.threshold_grid, protocol.post.threshold]
    pooled = protocol.post.threshold_objective == "pooled"
    losses, sick, healthy = [], [], []
    for s in subjects:
        probs, corners = window_probs(model, subject_input(s, protocol.input), protocol, device, precision)
        losses.append(_window_bce(probs, s.mask, corners, protocol.windows.size))
        truth, size = s.truth(protocol.metrics.native), s.mask.shape[1:]  # scored as the test scores
        if truth.any() or pooled:  # every threshold's counts from one read of the windows
            counts = threshold_counts(probs, corners, truth, protocol, grid, uses_morphology(model), size)
            (sick if truth.any() else healthy).append(counts)
    loss = float(np.mean(losses)) if losses else math.nan
    if not sick:
        return loss, math.nan, []
    # (threshold, (dice, jaccard)): the paper's per-subject scores, averaged over subjects.
    scores = np.array([[paper_scores(counts_at(c, j)) for c in sick] for j in range(len(grid))]).mean(1)
    curve = [
        {"threshold": float(t), "dice": float(d), "jaccard": float(jac)} for t, (d, jac) in zip(grid[:-1], scores[:-1])
    ]
    if pooled:
        tp, fp, fn, _ = np.concatenate(sick + healthy).sum(0).T  # (T,) pixel sums over every slice
        for j, point in enumerate(curve):
            point |= {"pooled_dice": dice(tp[j], fp[j], fn[j]), "pooled_jaccard": jaccard(tp[j], fp[j], fn[j])}
    return loss, float(scores[-1][1]), curve


def best_point(curve: list[dict], objective: str = "paper") -> dict:
    """The grid point with the highest validation Jaccard under the threshold objective, "paper" or
    "pooled" (the lower threshold on ties)."""
    if not curve:
        return {"threshold": math.nan, "jaccard": math.nan}
    key = "pooled_jaccard" if objective == "pooled" else "jaccard"
    return max(curve, key=lambda c: (c[key], -c["threshold"]))


def _window_bce(probs: np.ndarray, mask: np.ndarray, corners: np.ndarray, size: int) -> float:
    truth = np.stack([np.asarray(mask)[:, r : r + size, c : c + size] for r, c in corners], axis=1)
    p = np.clip(probs, 1e-7, 1 - 1e-7)
    return float(-(truth * np.log(p) + (1 - truth) * np.log1p(-p)).mean())
