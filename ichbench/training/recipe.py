"""The training recipe a protocol names: loss, optimiser with weight decay, learning-rate schedule.

The schedule is a function of the epoch alone, set at the start of every epoch, so a resumed job
follows it exactly without any scheduler state in the checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ichbench.protocol import Training

POLY_EXPONENT = 0.9  # nnU-Net's


def _soft_jaccard(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    p = torch.sigmoid(logits)
    inter = (p * target).sum()
    return 1 - (inter + 1.0) / (p.sum() + target.sum() - inter + 1.0)


def _dice_bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE plus the batch soft Dice loss (smoothed by 1), as nnU-Net pairs Dice with cross-entropy."""
    p = torch.sigmoid(logits)
    inter = (p * target).sum()
    dice = (2 * inter + 1.0) / (p.sum() + target.sum() + 1.0)
    return F.binary_cross_entropy_with_logits(logits, target) + (1 - dice)


def loss_fn(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Binary cross-entropy, soft Jaccard, or BCE + soft Dice, on logits."""
    return {"bce": F.binary_cross_entropy_with_logits, "jaccard": _soft_jaccard, "dice_bce": _dice_bce}[name]


def make_optimizer(params, training: Training) -> torch.optim.Optimizer:
    """Adam (weight decay as L2 in the gradient) or AdamW (decoupled weight decay); `fused` picks torch's
    one-kernel update (on CPU several times faster a step than the per-tensor loop)."""
    cls = torch.optim.AdamW if training.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=training.lr, weight_decay=training.weight_decay, fused=training.fused or None)


def lr_at(epoch: int, training: Training) -> float:
    """The learning rate of an epoch: constant, nnU-Net's poly decay, or cosine decay to zero."""
    progress = epoch / training.epochs
    if training.schedule == "poly":
        return training.lr * (1 - progress) ** POLY_EXPONENT
    if training.schedule == "cosine":
        return training.lr * 0.5 * (1 + math.cos(math.pi * progress))
    return training.lr


def set_lr(optimizer: torch.optim.Optimizer, epoch: int, training: Training) -> float:
    """Set every parameter group's learning rate for `epoch`; returns it."""
    lr = lr_at(epoch, training)
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr
