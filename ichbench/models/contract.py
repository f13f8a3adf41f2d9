"""What a model is: the contract every registered architecture keeps.

A factory `f(in_channels=1, **kw) -> torch.nn.Module` builds a module that maps
(B, C, h, w) float windows in [0, 1] to one logit channel (B, 1, h, w). Optional attributes:
- `input_multiple` (default 1): h and w must be divisible by it (a U-Net of five levels needs 16);
- `trainable` (default True): False for models fitted by `fit_subjects` rather than by gradients;
- `morphology` (default True): False for a model whose masks are taken as thresholded, without the
  protocol's closing and opening (the paper's fixed-band experiment had none);
- `channels_last` (default True): False for a model whose convolutions run slower in channels-last
  layout (nnU-Net's instance-normed stages: 0.84x on 2 AVX2 cores, 0.82x on Zen 4);
- `fit_subjects(subjects) -> dict`: fits a non-trainable model on the training subjects and
  returns what it fitted (stored in the job's result).
`check_output` enforces the shape part of it with one forward pass before a run writes anything.
"""

from __future__ import annotations

import torch

from ichbench.errors import ModelError


def check_output(name: str, model: torch.nn.Module, channels: int, window: int) -> None:
    """One forward pass of two windows: the output must be (2, 1, window, window) logits.

    Raises a ModelError naming the model, the shapes and `input_multiple`, before anything trains."""
    x = torch.zeros(2, channels, window, window)
    was_training = model.training
    try:
        with torch.no_grad():
            out = model.eval()(x)
    except Exception as exc:  # a plugin may fail in any way; the user needs its name, not a traceback
        raise ModelError(
            f"model {name!r} failed a forward pass on windows of shape {tuple(x.shape)}: {type(exc).__name__}: "
            f"{str(exc)[:300]} (does it need window sides divisible by something? set `input_multiple` on the "
            f"module its factory returns)"
        ) from None
    finally:
        model.train(was_training)
    want = (2, 1, window, window)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != want:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ModelError(
            f"model {name!r} maps windows of shape {tuple(x.shape)} to {got}, not {want}: a model must return one "
            f"logit per input pixel; one that needs window sides divisible by something says so with an "
            f"`input_multiple` attribute on the module (now {input_multiple(model)})"
        )


def input_multiple(model: object) -> int:
    """The multiple a model's window sides must have (1 when it does not say)."""
    return int(getattr(model, "input_multiple", 1))


def prefers_channels_last(model: object) -> bool:
    """Whether a model runs faster in channels-last layout (True when it does not say)."""
    return bool(getattr(model, "channels_last", True))


def uses_morphology(model: object) -> bool:
    """Whether the protocol's closing and opening apply to a model's masks (True when it does not say)."""
    return bool(getattr(model, "morphology", True))


def trainable(model: object) -> bool:
    """Whether a model learns by gradient descent (True when it does not say)."""
    return bool(getattr(model, "trainable", True))
