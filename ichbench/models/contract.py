"""What a model is: the contract every registered architecture keeps.

A factory `f(in_channels=1, **kw) -> SegmentationModel` builds a torch module that maps
(B, C, h, w) float windows in [0, 1] to one logit channel (B, 1, h, w). Optional attributes:
- `input_multiple` (default 1): h and w must be divisible by it (a U-Net of five levels needs 16);
- `trainable` (default True): False for models fitted by `fit_subjects` rather than by gradients;
- `morphology` (default True): False for a model whose masks are taken as thresholded, without the
  protocol's closing and opening (the paper's fixed-band experiment had none);
- `fit_subjects(subjects) -> dict`: fits a non-trainable model on the training subjects and
  returns what it fitted (stored in the job's result).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class SegmentationModel(Protocol):
    """A torch module producing one logit channel per pixel."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) -> (B, 1, h, w) logits."""
        ...

    def parameters(self):  # noqa: ANN201 - torch's own signature
        """The module's parameters (torch.nn.Module)."""
        ...


def input_multiple(model: object) -> int:
    """The multiple a model's window sides must have (1 when it does not say)."""
    return int(getattr(model, "input_multiple", 1))


def uses_morphology(model: object) -> bool:
    """Whether the protocol's closing and opening apply to a model's masks (True when it does not say)."""
    return bool(getattr(model, "morphology", True))


def trainable(model: object) -> bool:
    """Whether a model learns by gradient descent (True when it does not say)."""
    return bool(getattr(model, "trainable", True))
