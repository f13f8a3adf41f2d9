"""What a model costs: forward FLOP per window and the FLOP arithmetic of training, defined once for the
plan (before a run) and for the budget columns of a row (after it)."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from ichbench.models.registry import build
from ichbench.protocol import Protocol

BACKWARD = 3.0  # forward + backward of a training window, in forwards


def forward_gflop(name: str, protocol: Protocol) -> float:
    """Forward GFLOP of one window of the protocol's size (counted on the meta device: nothing runs)."""
    size = protocol.windows.size
    with torch.device("meta"):
        model = build(name, protocol)
        x = torch.zeros(1, protocol.input.count, size, size)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(x)
    return counter.get_total_flops() / 1e9


def pflop(gflop_per_window: float, trained: float, predicted: float) -> float:
    """PFLOP of `trained` windows (forward and backward) and `predicted` ones (forward only)."""
    return gflop_per_window * (BACKWARD * trained + predicted) / 1e6
