"""One optimiser step as training takes it, shared by `training.train` and `ichbench plan`'s calibration.

A `Step` owns the model (on its device, in the memory layout it prefers), the optimiser the recipe
names (fused where the recipe asks), the loss and the precision the recipe's `[training] precision`
means on this device. `plan` times the same object on random windows, so its estimate and training
take the same code path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ichbench.inference.infer import autocast, prepare_model
from ichbench.protocol import Protocol
from ichbench.training.recipe import loss_fn, make_optimizer


@dataclass
class Step:
    """forward, loss, backward and optimiser step of one batch; `seconds` adds up their time."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    criterion: object
    device: torch.device
    precision: str  # "bf16" or "fp32": what this job actually computes in
    seconds: float = field(default=0.0)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Train on one batch; returns the loss (detached)."""
        start = time.perf_counter()
        with autocast(self.device, self.precision):
            logits = self.model(x)
        loss = self.criterion(logits.float(), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize()  # so that `seconds` is compute, not queued kernels
        self.seconds += time.perf_counter() - start
        return loss.detach()


def make_step(model: torch.nn.Module, protocol: Protocol, device: torch.device, precision: str) -> Step:
    """A Step for a freshly built model under a protocol's recipe on a device, computing in `precision`
    (resolved once by the job, or by the plan that times it: inference.infer.precision_for)."""
    model = prepare_model(model, device)
    optimizer = make_optimizer(model.parameters(), protocol.training)
    return Step(model, optimizer, loss_fn(protocol.training.loss), device, precision)
