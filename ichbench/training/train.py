"""One job: train a model on a fold's training windows, keep the best epoch on its validation subjects.

Every epoch ends with an atomic checkpoint (weights, optimiser, history); a resumed job continues
from it and, because every epoch's randomness is seeded from (seed, fold, epoch), ends exactly as
an uninterrupted one would on the same machine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ichbench.atomic import atomic_save
from ichbench.data.dataset import Subject
from ichbench.evaluation.metrics import paper_scores, slice_counts
from ichbench.inference.infer import autocast, binarize, prepare_model, stitch_probs, to_input, window_probs
from ichbench.models.contract import trainable
from ichbench.models.registry import create_model
from ichbench.protocol import Protocol
from ichbench.training.augment import augment
from ichbench.training.windows import WindowSampler, training_windows

EpochCallback = Callable[[dict], None]


@dataclass
class Trained:
    """What training leaves: the best model, its epoch and threshold, and the history."""

    model: torch.nn.Module
    best_epoch: int
    threshold: float
    history: list[dict] = field(default_factory=list)
    fitted: dict = field(default_factory=dict)
    curve: list[dict] = field(default_factory=list)  # validation Dice/Jaccard against threshold


def job_seed(protocol: Protocol, fold: int) -> int:
    """The seed of one (protocol, fold) job; the same for every model, so they see the same windows."""
    return protocol.training.seed * 1000 + fold


def build_model(name: str, protocol: Protocol, fold: int, device: torch.device) -> torch.nn.Module:
    """A freshly initialised model (initialisation seeded per job)."""
    torch.manual_seed(job_seed(protocol, fold))
    return prepare_model(create_model(name, in_channels=1, **protocol.models.get(name, {})), device)


def loss_fn(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Binary cross-entropy or soft Jaccard on logits."""
    if name == "bce":
        return F.binary_cross_entropy_with_logits

    def soft_jaccard(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid(logits)
        inter = (p * target).sum()
        return 1 - (inter + 1.0) / (p.sum() + target.sum() - inter + 1.0)

    return soft_jaccard


def train(
    name: str,
    protocol: Protocol,
    fold: int,
    train: list[Subject],
    val: list[Subject],
    device: torch.device,
    job_dir: Path,
    on_epoch: EpochCallback | None = None,
) -> Trained:
    """Train (or, for non-learned models, fit) one job, resuming from job_dir/checkpoint.pt if present."""
    model = build_model(name, protocol, fold, device)
    if not trainable(model):
        fitted = model.fit_subjects(train + val)
        atomic_save(job_dir / "best.pt", lambda p: torch.save(model.state_dict(), p))
        return Trained(model, 0, protocol.post.threshold, [], fitted, validate(model, val, protocol, device)[2])
    seed = job_seed(protocol, fold)
    optimizer = torch.optim.Adam(model.parameters(), lr=protocol.training.lr)
    state = _load(job_dir / "checkpoint.pt", device)
    history: list[dict] = state["history"] if state else []
    best = (state["best_epoch"], state["best_score"]) if state else (-1, -math.inf)
    best_curve: list[dict] = state["best_curve"] if state else []
    if state:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    sampler = WindowSampler(
        training_windows(train, protocol.windows.size, protocol.windows.stride, seed, device),
        protocol.training.batch_size,
        seed,
    )
    criterion = loss_fn(protocol.training.loss)
    for epoch in range(len(history), protocol.training.epochs):
        start = time.perf_counter()
        train_loss = _train_epoch(model, optimizer, sampler, criterion, protocol, seed, epoch, device)
        val_loss, val_jaccard, curve = validate(model, val, protocol, device)
        tuned = _best_point(curve)
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "val_jaccard": val_jaccard,
            "val_best_threshold": tuned["threshold"],
            "val_best_jaccard": tuned["jaccard"],
            "seconds": time.perf_counter() - start,
        }
        history.append(row)
        # With threshold_search, an epoch is judged at its own best threshold on the validation subjects.
        score = tuned["jaccard"] if protocol.post.threshold_search else val_jaccard
        score = -math.inf if math.isnan(score) else score
        if score >= best[1]:  # ties go to the later epoch: it has trained longer
            best, best_curve = (epoch, score), curve
            atomic_save(job_dir / "best.pt", lambda p: torch.save(model.state_dict(), p))
        checkpoint = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "history": history,
            "best_epoch": best[0],
            "best_score": best[1],
            "best_curve": best_curve,
        }
        atomic_save(job_dir / "checkpoint.pt", partial(torch.save, checkpoint))
        if on_epoch:
            on_epoch(row)
    model.load_state_dict(torch.load(job_dir / "best.pt", map_location=device, weights_only=True))
    threshold = protocol.post.threshold
    if protocol.post.threshold_search and best_curve:
        threshold = _best_point(best_curve)["threshold"]
    return Trained(model, best[0], threshold, history, curve=best_curve)


def _best_point(curve: list[dict]) -> dict:
    """The grid point with the highest validation Jaccard (the lower threshold on ties)."""
    if not curve:
        return {"threshold": math.nan, "jaccard": math.nan}
    return max(curve, key=lambda c: (c["jaccard"], -c["threshold"]))


def _load(path: Path, device: torch.device) -> dict | None:
    return torch.load(path, map_location=device, weights_only=True) if path.exists() else None


def _train_epoch(
    model, optimizer, sampler, criterion, protocol: Protocol, seed: int, epoch: int, device: torch.device
) -> float:
    torch.manual_seed(seed * 100_003 + epoch)  # dropout and any other global randomness of this epoch
    generator = torch.Generator().manual_seed(seed * 100_019 + epoch)  # augmentation
    model.train()
    total, count = 0.0, 0
    for images, masks in sampler.epoch(epoch):
        x, y = augment(to_input(images, device), masks.to(device).float(), protocol.augmentation, generator)
        with autocast(device):
            logits = model(x)
        loss = criterion(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(x)
        count += len(x)
    return total / max(count, 1)


def validate(model, subjects: list[Subject], protocol: Protocol, device: torch.device) -> tuple[float, float, list]:
    """Mean window BCE, mean per-subject paper Jaccard at the protocol threshold, and the Dice/Jaccard
    curve against the grid thresholds, over the validation subjects."""
    losses, sick = [], []
    for s in subjects:
        probs, corners = window_probs(model, s.image, protocol, device)
        losses.append(_window_bce(probs, s.mask, corners, protocol.windows.size))
        if s.has_hemorrhage:
            sick.append((s, stitch_probs(probs, corners, s.image.shape[1:], protocol)))
    loss = float(np.mean(losses)) if losses else math.nan
    if not sick:
        return loss, math.nan, []

    def scores(t: float) -> np.ndarray:
        return np.array([paper_scores(slice_counts(binarize(p, protocol, t), s.mask)) for s, p in sick]).mean(0)

    curve = [
        {"threshold": float(t), "dice": float(d), "jaccard": float(j)}
        for t in protocol.post.threshold_grid
        for d, j in [scores(t)]
    ]
    return loss, float(scores(protocol.post.threshold)[1]), curve


def _window_bce(probs: np.ndarray, mask: np.ndarray, corners: np.ndarray, size: int) -> float:
    truth = np.stack([np.asarray(mask)[:, r : r + size, c : c + size] for r, c in corners], axis=1)
    p = np.clip(probs, 1e-7, 1 - 1e-7)
    return float(-(truth * np.log(p) + (1 - truth) * np.log1p(-p)).mean())
