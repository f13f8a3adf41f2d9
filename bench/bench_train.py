"""Training and inference throughput: ichbench's step against a plain fp32 torch step, in the same run.

Three models at the `cpu` window (64 px, batches of 16) and the `paper` window (160 px, batches of 32).
`time_ichbench_step` is one optimiser step through `ichbench.training.step.Step` under a recipe with
`precision = "auto"` and `fused = true` (bf16 where the CPU does it fast, the model's memory layout,
torch's fused Adam); `time_plain_fp32_step` is the named baseline: the same model, batch and loss in
plain torch (fp32, contiguous tensors, the default Adam). windows/s = batch / time; `bench/ratios.py`
prints baseline / ichbench. The inference pair does the same for a forward pass without gradients.
"""

from __future__ import annotations

import numpy as np
import torch

from ichbench.inference.infer import autocast, precision_for, to_input
from ichbench.models.registry import build
from ichbench.protocol import parse_protocol
from ichbench.training.step import make_step
from ichbench.training.train import train_epoch
from ichbench.training.windows import WindowSampler, WindowSet

RECIPE = """
name = "bench"
[windows]
size = {size}
stride = {stride}
[training]
batch_size = {batch}
lr = 1e-4
precision = "auto"
fused = true
"""
WINDOWS = {"64": (64, 16), "160": (160, 32)}  # window side -> batch: the cpu and paper protocols'


class _Batch:
    """A model under the fast recipe and the same model in plain torch, with one batch of windows."""

    params = (["unet", "resunet", "nnunet-2d"], list(WINDOWS))
    param_names = ["model", "window"]
    number = 1
    # 2 to 3 samples, no more than 20 s of them: a 160-px step of 32 windows takes up to 13 s on 2 cores,
    # and the whole suite ran past 25 minutes with 3 fixed samples.
    repeat = (2, 3, 20.0)
    min_run_count = 2
    warmup_time = 0
    timeout = 600

    def setup(self, model: str, window: str) -> None:
        size, batch = WINDOWS[window]
        protocol = parse_protocol(RECIPE.format(size=size, stride=size // 2, batch=batch), "bench")
        cpu = torch.device("cpu")
        torch.manual_seed(0)
        self.step = make_step(build(model, protocol), protocol, cpu, precision_for(protocol.training.precision, cpu))
        self.x = to_input(torch.randint(0, 256, (batch, 1, size, size), dtype=torch.uint8), cpu)
        self.y = (torch.rand(batch, 1, size, size) > 0.9).float()
        torch.manual_seed(0)
        self.plain = build(model, protocol)  # fp32, contiguous: plain torch as a user would write it
        self.plain_optimizer = torch.optim.Adam(self.plain.parameters(), lr=1e-4)
        self.plain_x = self.x

    def plain_step(self) -> None:
        """The baseline: forward, BCE, backward and the default Adam step in plain fp32 torch."""
        loss = torch.nn.functional.binary_cross_entropy_with_logits(self.plain(self.plain_x), self.y)
        self.plain_optimizer.zero_grad()
        loss.backward()
        self.plain_optimizer.step()


class TrainStep(_Batch):
    """One training step (forward, BCE, backward, Adam) of a batch of windows."""

    def setup(self, model: str, window: str) -> None:
        super().setup(model, window)
        self.step(self.x, self.y)  # warm-up: allocators, kernels, the fused optimiser's state
        self.plain_step()

    def time_ichbench_step(self, model: str, window: str) -> None:
        self.step(self.x, self.y)

    def time_plain_fp32_step(self, model: str, window: str) -> None:
        self.plain_step()


class InferWindows(_Batch):
    """One forward pass of a batch of windows without gradients, as prediction runs it."""

    def setup(self, model: str, window: str) -> None:
        super().setup(model, window)
        self.step.model.eval()
        self.plain.eval()

    def time_ichbench_forward(self, model: str, window: str) -> None:
        with torch.inference_mode(), autocast(self.step.device, self.step.precision):
            self.step.model(self.x)

    def time_plain_fp32_forward(self, model: str, window: str) -> None:
        with torch.inference_mode():
            self.plain(self.plain_x)


EPOCH_RECIPE = """
name = "bench-epoch"
[windows]
size = 64
stride = 32
[training]
batch_size = 16
lr = 3e-4
precision = "{precision}"
fused = {fused}
"""
EPOCH_WINDOWS = 64  # 4 batches of the cpu protocol's 16: a short epoch, cut, augmented and stepped as training does


class TrainEpoch:
    """A `cpu`-protocol epoch through training's own loop (window cutting, augmentation, step): the fast recipe
    (`precision = "auto"`, `fused = true`) against the named baseline, the recipe as it stood before them
    (fp32, the default Adam)."""

    params = (["unet", "resunet"],)
    param_names = ["model"]
    number = 1
    repeat = (2, 3, 20.0)
    min_run_count = 2
    warmup_time = 0
    timeout = 600

    def setup(self, model: str) -> None:
        rng = np.random.default_rng(0)
        slices = torch.from_numpy(rng.integers(0, 256, (8, 160, 160), dtype=np.uint8))
        masks = (torch.rand(8, 160, 160, generator=torch.Generator().manual_seed(0)) > 0.9).to(torch.uint8)
        corners = rng.integers(0, 160 - 64, (EPOCH_WINDOWS, 2))
        index = np.column_stack([rng.integers(0, 8, EPOCH_WINDOWS), corners]).astype(np.int64)
        self.sampler = WindowSampler(WindowSet(slices[:, None], masks, index, 64), 16, seed=0)
        self.runs = {}
        for name, precision, fused in (("fast", "auto", "true"), ("before", "fp32", "false")):
            protocol = parse_protocol(EPOCH_RECIPE.format(precision=precision, fused=fused), "bench")
            torch.manual_seed(0)
            cpu = torch.device("cpu")
            step = make_step(build(model, protocol), protocol, cpu, precision_for(protocol.training.precision, cpu))
            self.runs[name] = (step, protocol)
            self.epoch(name)  # warm-up: allocators, kernels, the optimiser's state

    def epoch(self, name: str) -> None:
        """One epoch of the named recipe."""
        step, protocol = self.runs[name]
        train_epoch(step, self.sampler, protocol, seed=0, epoch=0)

    def time_ichbench_epoch(self, model: str) -> None:
        self.epoch("fast")

    def time_before_epoch(self, model: str) -> None:
        self.epoch("before")
