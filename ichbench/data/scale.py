"""Downsampling on load (a protocol's `[data] scale`): box-averaged images, at-least-half masks.

An integer factor f = 1 / scale: each f x f block of an image becomes its rounded mean; a mask
pixel is kept when at least half of its block is blood (so a lesion never grows); the in-plane
spacing is multiplied by f. Slice sides must be divisible by f.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ichbench.data.dataset import Subject
from ichbench.data.inputs import EXTRA
from ichbench.errors import DataError


def factor(scale: float) -> int:
    """The integer block size of a scale (0.25 -> 4); anything else is an error."""
    f = round(1 / scale) if scale > 0 else 0
    if f < 1 or abs(f * scale - 1) > 1e-9:
        raise DataError(f"[data] scale {scale}: must be 1 / n for a whole number n (1, 0.5, 0.25, ...)")
    return f


def _blocks(stack: np.ndarray, f: int) -> np.ndarray:
    s, h, w = stack.shape
    return np.asarray(stack).reshape(s, h // f, f, w // f, f)


def downsample_image(stack: np.ndarray, f: int) -> np.ndarray:
    """(S, H, W) uint8 -> (S, H/f, W/f): the rounded mean of each f x f block."""
    return np.rint(_blocks(stack, f).mean(axis=(2, 4))).astype(np.uint8)


def downsample_mask(stack: np.ndarray, f: int) -> np.ndarray:
    """(S, H, W) 0/1 -> (S, H/f, W/f): 1 where at least half of the f x f block is 1."""
    return (2 * _blocks(stack.astype(np.uint16), f).sum(axis=(2, 4)) >= f * f).astype(np.uint8)


def downsample(subject: Subject, f: int) -> Subject:
    """A subject at 1/f of the resolution in-plane (labels and slice numbers unchanged)."""
    if f == 1:
        return subject
    h, w = subject.image.shape[1:]
    if h % f or w % f:
        raise DataError(f"subject {subject.id}: slices of {w} x {h} cannot be downsampled by {f} (sides must divide)")
    spacing = subject.spacing
    if spacing is not None:
        spacing = (spacing[0], spacing[1] * f, spacing[2] * f)
    extra = {name: getattr(subject, name) for name in EXTRA}
    extra = {name: downsample_image(stack, f) for name, stack in extra.items() if stack is not None}
    return dataclasses.replace(
        subject,
        image=downsample_image(subject.image, f),
        mask=downsample_mask(subject.mask, f),
        native_mask=subject.mask,  # scored against at native resolution (never downsampled for scoring)
        spacing=spacing,
        **extra,
    )
