"""Training windows (the paper's undersampling) and a sampler that cuts batches from in-memory stacks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

from ichbench.data.dataset import Subject
from ichbench.data.inputs import InputSpec, subject_input
from ichbench.post import grid
from ichbench.protocol import Protocol

BRAIN = InputSpec()


@dataclass
class WindowSet:
    """Windows to train on: input stacks (n, C, H, W) and masks (n, H, W), uint8 on the training device, and
    (slot, row, col) rows.

    Slices of different sizes are zero-padded to a common size; windows never reach the padding.
    """

    images: torch.Tensor
    masks: torch.Tensor
    index: np.ndarray  # (n, 3) int64: slot in the stacks, top-left row, top-left col
    size: int
    shapes: np.ndarray | None = None  # (slots, 2): each slice's own (H, W) inside the padding; None: all full
    pool: NegativePool | None = None  # [windows] negatives = "epoch": the negatives drawn anew each epoch

    def __len__(self) -> int:
        return len(self.index) + (self.pool.count if self.pool is not None else 0)

    def rows(self, seed: int, epoch: int) -> np.ndarray:
        """The (slot, row, col) rows of one epoch: the fixed ones plus, with a pool, this epoch's negatives."""
        if self.pool is None:
            return self.index
        return np.concatenate([self.index, self.pool.draw(np.random.default_rng([seed, epoch, 2]))])

    def slot_shapes(self) -> np.ndarray:
        """(slots, 2) heights and widths of the slices in the stacks, padding excluded."""
        if self.shapes is not None:
            return self.shapes
        return np.tile(np.array(self.masks.shape[1:], np.int64), (len(self.masks), 1))


@dataclass
class NegativePool:
    """Every hemorrhage-free slice of each training subject, held in the stacks, so that each epoch draws a
    new one per subject: as many windows and as much compute as one slice chosen once, more healthy tissue."""

    slots: list[np.ndarray]  # per subject with a negative slice: the stack slots of its negative slices
    corners: list[np.ndarray]  # per such subject: (k, 2) window corners of its slices (one shape per subject)

    @property
    def count(self) -> int:
        """Windows drawn per epoch: one slice's grid per subject."""
        return sum(len(c) for c in self.corners)

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """(count, 3) rows: all windows of one random negative slice per subject."""
        parts = [np.column_stack([np.full(len(c), rng.choice(s)), c]) for s, c in zip(self.slots, self.corners)]
        return np.concatenate(parts).astype(np.int64) if parts else np.empty((0, 3), np.int64)


def training_windows(
    subjects: list[Subject],
    size: int,
    stride: int,
    seed: int,
    device: str | torch.device = "cpu",
    negatives: bool = True,
    spec: InputSpec = BRAIN,
    fresh: bool = False,
) -> WindowSet:
    """Every window with hemorrhage from hemorrhage slices, plus all windows of one random negative slice
    per subject (seeded); without `negatives`, the windows with hemorrhage only (the original code's
    validation set). With `fresh`, the negative slice is drawn anew each epoch (see NegativePool). The
    windows carry the input channels of `spec`."""
    picked, rows = select_windows(subjects, size, stride, seed, negatives and not fresh)
    pool = None
    if fresh and negatives:
        pool = NegativePool([], [])
        for subject in subjects:
            negative = np.flatnonzero(~subject.positive)
            if len(negative):
                pool.slots.append(np.arange(len(picked), len(picked) + len(negative)))
                pool.corners.append(grid(subject.image.shape[1:], size, stride).astype(np.int64))
                picked.extend((subject, int(z)) for z in negative)
    wanted: dict[int, list[int]] = {}
    for s, z in picked:
        wanted.setdefault(id(s), []).append(z)
    # One input per scan, of its picked slices only: normalise sees the whole scan once, and 2.5-D stacks
    # are not built for slices no window uses.
    inputs = {
        id(s): dict(zip(wanted[id(s)], subject_input(s, spec, wanted[id(s)]))) for s in subjects if id(s) in wanted
    }
    images, masks = _stack([(inputs[id(s)][z], s.mask[z]) for s, z in picked])
    index = np.array(rows, np.int64).reshape(-1, 3)
    shapes = np.array([s.mask.shape[1:] for s, _ in picked], np.int64).reshape(-1, 2)
    stacks = {"images": images.to(device), "masks": masks.to(device)}
    return WindowSet(**stacks, index=index, size=size, shapes=shapes, pool=pool)


def select_windows(
    subjects: list[Subject], size: int, stride: int, seed: int, negatives: bool = True
) -> tuple[list[tuple[Subject, int]], list[tuple[int, int, int]]]:
    """The paper's undersampling: (subject, slice) pairs picked, and (slot, row, col) rows of their windows."""
    rng = np.random.default_rng(seed)
    picked: list[tuple[Subject, int]] = []
    rows = []
    for subject in subjects:
        corners = grid(subject.image.shape[1:], size, stride)
        positive = np.flatnonzero(subject.positive)
        negative = np.flatnonzero(~subject.positive)
        chosen = [(int(z), True) for z in positive]
        if len(negative) and negatives:
            chosen.append((int(rng.choice(negative)), False))
        for z, is_positive in chosen:
            keep = corners
            if is_positive:
                keep = corners[[bool(subject.mask[z, r : r + size, c : c + size].any()) for r, c in corners]]
            rows.extend((len(picked), int(r), int(c)) for r, c in keep)
            picked.append((subject, z))
    return picked, rows


def _stack(pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(C, H, W) inputs and (H, W) masks -> zero-padded (n, C, H, W) and (n, H, W) stacks."""
    channels = pairs[0][0].shape[0] if pairs else 1
    height = max((mk.shape[0] for _, mk in pairs), default=0)
    width = max((mk.shape[1] for _, mk in pairs), default=0)
    images = np.zeros((len(pairs), channels, height, width), np.uint8)
    masks = np.zeros((len(pairs), height, width), np.uint8)
    for i, (im, mk) in enumerate(pairs):
        images[i, :, : mk.shape[0], : mk.shape[1]] = im
        masks[i, : mk.shape[0], : mk.shape[1]] = mk
    return torch.from_numpy(images), torch.from_numpy(masks)


class WindowSampler:
    """Shuffled batches of (input, mask) windows, (B, C, h, w) and (B, 1, h, w) uint8, cut on the stacks' device.

    The order depends only on (seed, epoch), so a resumed run sees the same batches.
    """

    def __init__(
        self, windows: WindowSet, batch_size: int, seed: int, drop_last: bool = False, foreground: float = 0.0
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        self.windows = windows
        self.batch_size = batch_size
        self.seed = seed
        self.drop_last = drop_last
        self.foreground = foreground
        self._views: tuple[np.ndarray, np.ndarray] | None = None
        self._pixels: np.ndarray | None = None

    def __len__(self) -> int:
        n = len(self.windows)
        if self.drop_last or (n % self.batch_size == 1 and n > 1):
            # A batch of one cannot be batch-normalised; the window left out changes with every shuffle.
            return n // self.batch_size
        return -(-n // self.batch_size)

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of one epoch."""
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.windows))
        extra = np.random.default_rng([self.seed, epoch, 1])  # its own stream: foreground = 0 keeps the order
        index = self.windows.rows(self.seed, epoch)
        for b in range(len(self)):
            rows = index[order[b * self.batch_size : (b + 1) * self.batch_size]]
            yield self.cut(self.oversample(rows, extra))

    def oversample(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Replace the first `foreground` share of a batch's windows by windows centred on a random hemorrhage
        pixel (nnU-Net's foreground oversampling); the batch keeps its size, so an epoch costs the same."""
        n = round(self.foreground * len(rows))
        if n == 0:
            return rows
        if self._pixels is None:
            self._pixels = np.argwhere(self.windows.masks.cpu().numpy()).astype(np.int64)  # (slot, y, x)
        if len(self._pixels) == 0:
            return rows
        slot, y, x = self._pixels[rng.integers(len(self._pixels), size=n)].T
        size, (h, w) = self.windows.size, self.windows.slot_shapes()[slot].T
        top = np.clip(y - size // 2, 0, h - size)
        left = np.clip(x - size // 2, 0, w - size)
        return np.concatenate([np.stack([slot, top, left], 1), rows[n:]])

    def cut(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Cut the windows named by (slot, row, col) rows into (B, C, h, w) input and (B, 1, h, w) mask tensors."""
        s, w = self.windows, self.windows.size
        slot, r, c = rows[:, 0], rows[:, 1], rows[:, 2]
        if s.images.device.type == "cpu":
            # One numpy gather over a sliding-window view: no per-window Python or torch overhead.
            if self._views is None:
                self._views = (
                    sliding_window_view(s.images.numpy(), (w, w), axis=(2, 3)),
                    sliding_window_view(s.masks.numpy(), (w, w), axis=(1, 2)),
                )
            images, masks = self._views
            return torch.from_numpy(images[slot, :, r, c]), torch.from_numpy(masks[slot, r, c][:, None])
        return gather_torch(s.images, s.masks, rows, w)


def gather_torch(images: torch.Tensor, masks: torch.Tensor, rows: np.ndarray, w: int) -> tuple[torch.Tensor, ...]:
    """Cut windows with one indexed gather on the stacks' own device (the GPU path)."""
    dev = images.device
    offsets = torch.arange(w, device=dev)
    ri = torch.as_tensor(rows[:, 1], device=dev)[:, None, None] + offsets[None, :, None]
    ci = torch.as_tensor(rows[:, 2], device=dev)[:, None, None] + offsets[None, None, :]
    si = torch.as_tensor(rows[:, 0], device=dev)[:, None, None]
    # Indices around a sliced axis put the (B, h, w) index shape first: (B, h, w, C) -> (B, C, h, w).
    return images[si, :, ri, ci].permute(0, 3, 1, 2).contiguous(), masks[si, ri, ci][:, None]


def grid_windows(subjects: list[Subject], protocol: Protocol) -> int:
    """Every window of every slice: what prediction on these subjects costs."""
    size, stride = protocol.windows.size, protocol.windows.stride
    return sum(len(s.image) * len(grid(s.image.shape[1:], size, stride)) for s in subjects)
