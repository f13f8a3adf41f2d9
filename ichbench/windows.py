"""Training windows (the paper's undersampling) and a sampler that cuts batches from in-memory stacks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ichbench.data.dataset import Subject
from ichbench.post import grid


@dataclass
class WindowSet:
    """Windows to train on: slices (uint8 tensors, on the training device) and (slice, row, col) rows."""

    images: list[torch.Tensor]
    masks: list[torch.Tensor]
    index: np.ndarray  # (n, 3) int64: position in images, top-left row, top-left col
    size: int

    def __len__(self) -> int:
        return len(self.index)


def training_windows(
    subjects: list[Subject], size: int, stride: int, seed: int, device: str | torch.device = "cpu"
) -> WindowSet:
    """Every window with hemorrhage from hemorrhage slices, plus all windows of one random negative slice
    per subject (seeded)."""
    rng = np.random.default_rng(seed)
    images, masks, rows = [], [], []
    for subject in subjects:
        corners = grid(subject.image.shape[1:], size, stride)
        positive = np.flatnonzero(subject.positive)
        negative = np.flatnonzero(~subject.positive)
        chosen = [(int(z), True) for z in positive]
        if len(negative):
            chosen.append((int(rng.choice(negative)), False))
        for z, is_positive in chosen:
            keep = corners
            if is_positive:
                keep = corners[[bool(subject.mask[z, r : r + size, c : c + size].any()) for r, c in corners]]
            slot = len(images)
            images.append(torch.from_numpy(np.ascontiguousarray(subject.image[z])).to(device))
            masks.append(torch.from_numpy(np.ascontiguousarray(subject.mask[z])).to(device))
            rows.extend((slot, int(r), int(c)) for r, c in keep)
    index = np.array(rows, np.int64).reshape(-1, 3)
    return WindowSet(images=images, masks=masks, index=index, size=size)


class WindowSampler:
    """Shuffled batches of (image, mask) windows, (B, 1, h, w) uint8, cut on the stacks' device.

    The order depends only on (seed, epoch), so a resumed run sees the same batches.
    """

    def __init__(self, windows: WindowSet, batch_size: int, seed: int, drop_last: bool = False) -> None:
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        self.windows = windows
        self.batch_size = batch_size
        self.seed = seed
        self.drop_last = drop_last

    def __len__(self) -> int:
        n = len(self.windows)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of one epoch."""
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.windows))
        for b in range(len(self)):
            yield self.cut(self.windows.index[order[b * self.batch_size : (b + 1) * self.batch_size]])

    def cut(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Cut the windows named by (slot, row, col) rows into two (B, 1, h, w) uint8 tensors."""
        s, w = self.windows, self.windows.size
        ref = s.images[0]
        images = torch.empty((len(rows), 1, w, w), dtype=ref.dtype, device=ref.device)
        masks = torch.empty_like(images)
        for i, (slot, r, c) in enumerate(rows.tolist()):
            images[i, 0] = s.images[slot][r : r + w, c : c + w]
            masks[i, 0] = s.masks[slot][r : r + w, c : c + w]
        return images, masks
