"""The paper's non-learned baselines: keep the pixels inside an intensity band.

`threshold-fixed` is the paper's first experiment, the band 140 to 230 as published, nothing fitted.
For `threshold` the band's bounds are grid-searched on the training subjects (maximising the pooled pixel
Jaccard over their slices, as the paper's "grid search for optimal thresholds"). It then goes
through the same windows, stitching, post-processing and metrics as every model: inside the band
its output is a large positive logit, outside a large negative one.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ichbench.data.dataset import Subject

LOGIT = 20.0


class IntensityBand(nn.Module):
    """Logit +20 where low <= intensity <= high (uint8 brain-window scale), -20 elsewhere."""

    trainable = False  # fitted by fit_subjects, not by gradient descent

    def __init__(self, in_channels: int = 1, low: float = 140.0, high: float = 230.0) -> None:
        super().__init__()
        self.register_buffer("band", torch.tensor([low, high], dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x in [0, 1] (intensity / 255); only the first channel is used."""
        v = x[:, :1] * 255.0
        inside = (v >= self.band[0] - 1e-3) & (v <= self.band[1] + 1e-3)
        return torch.where(inside, LOGIT, -LOGIT).to(x.dtype)

    def fit_subjects(self, subjects: list[Subject], step: int = 5) -> dict[str, float]:
        """Grid-search (low, high) on these subjects; returns the bounds and their Jaccard."""
        pos = np.zeros(256, np.int64)
        total = np.zeros(256, np.int64)
        for s in subjects:
            image, mask = np.asarray(s.image), np.asarray(s.mask).astype(bool)
            pos += np.bincount(image[mask].ravel(), minlength=256)
            total += np.bincount(image.ravel(), minlength=256)
        low, high, jac = best_band(pos, total, step)
        self.band.copy_(torch.tensor([low, high], dtype=torch.float32))
        return {"low": float(low), "high": float(high), "train_jaccard": float(jac)}


def best_band(pos: np.ndarray, total: np.ndarray, step: int = 5) -> tuple[int, int, float]:
    """The band [low, high] on a grid of `step` maximising TP / (TP + FP + FN) from histograms."""
    cum_pos = np.concatenate([[0], np.cumsum(pos)])
    cum_all = np.concatenate([[0], np.cumsum(total)])
    grid = np.arange(0, 256, step)
    lo, hi = np.meshgrid(grid, grid, indexing="ij")
    tp = cum_pos[hi + 1] - cum_pos[lo]
    predicted = cum_all[hi + 1] - cum_all[lo]
    denom = predicted + pos.sum() - tp
    jac = np.where((hi >= lo) & (denom > 0), tp / np.maximum(denom, 1), -1.0)
    i, j = np.unravel_index(np.argmax(jac), jac.shape)
    return int(grid[i]), int(grid[j]), float(jac[i, j])


def threshold(in_channels: int = 1, **kw: float) -> nn.Module:
    """The intensity-band baseline (default band 140 to 230, the paper's values, until fitted)."""
    return IntensityBand(in_channels=in_channels, **kw)


class FixedBand(IntensityBand):
    """The band as given (the paper's 140 to 230): fitting changes nothing. As in the paper's first
    experiment, which preceded the windows and the morphological post-processing, its masks are the
    band itself: no closing or opening (with them the band scores Dice 0.120 on CT-ICH, without 0.137)."""

    morphology = False

    def fit_subjects(self, subjects: list[Subject], step: int = 5) -> dict[str, float]:
        """Nothing to fit; returns the band."""
        low, high = (float(v) for v in self.band)
        return {"low": low, "high": high}


def threshold_fixed(in_channels: int = 1, **kw: float) -> nn.Module:
    """The paper's fixed intensity band 140 to 230 (the uint8 brain-window scale), without fitting."""
    return FixedBand(in_channels=in_channels, **kw)
