"""The CUDA paths against the CPU ones: window cutting, augmentation, a bf16 step, prediction.

Marked `cuda`: skipped where torch sees no GPU; `bench/gpu_check.sh` runs them on a lent one. The same
code runs on the CPU in the rest of the suite (test_precision.py runs the bf16 step there)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ichbench.data.phantom.dataset import phantom_dataset
from ichbench.inference.infer import predict_masks, prepare_model, to_input
from ichbench.models.registry import build
from ichbench.protocol import parse_protocol
from ichbench.training.augment import augment
from ichbench.training.step import make_step
from ichbench.training.windows import WindowSampler, training_windows

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
PROTOCOL = parse_protocol(
    'name = "c"\n[phantom]\nsubjects = 4\nslices = 4\nsize = 64\n[windows]\nsize = 32\nstride = 16\n'
    '[training]\nbatch_size = 8\nprecision = "bf16"\nfused = true\n',
    "c",
)


@pytest.fixture(scope="module")
def subjects():
    return phantom_dataset(PROTOCOL.phantom).subjects


def test_windows_cut_on_the_gpu_equal_the_cpu_ones(subjects) -> None:
    cut = {
        dev: next(WindowSampler(training_windows(subjects, 32, 16, 0, dev), 8, seed=0).epoch(0))
        for dev in ("cpu", "cuda")
    }
    for a, b in zip(cut["cpu"], cut["cuda"]):
        assert torch.equal(a, b.cpu())


def test_augmentation_on_the_gpu_matches_the_cpu(subjects) -> None:
    images, masks = next(WindowSampler(training_windows(subjects, 32, 16, 0), 8, seed=0).epoch(0))
    out = {}
    for dev in ("cpu", "cuda"):
        generator = torch.Generator().manual_seed(5)
        x, y = augment(to_input(images, torch.device(dev)), masks.float().to(dev), PROTOCOL.augmentation, generator)
        out[dev] = (x.cpu(), y.cpu())
    torch.testing.assert_close(out["cuda"][0], out["cpu"][0], atol=1e-4, rtol=0)
    assert (out["cuda"][1] != out["cpu"][1]).float().mean() < 0.01  # nearest-neighbour masks at pixel edges


def test_a_bf16_step_trains_on_the_gpu() -> None:
    step = make_step(build("unet", PROTOCOL), PROTOCOL, torch.device("cuda"), "bf16")
    x = to_input(torch.randint(0, 256, (8, 1, 32, 32), dtype=torch.uint8), torch.device("cuda"))
    y = (torch.rand(8, 1, 32, 32, device="cuda") > 0.9).float()
    losses = [float(step(x, y)) for _ in range(5)]
    assert step.precision == "bf16" and all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_prediction_on_the_gpu_agrees_with_the_cpu(subjects) -> None:
    torch.manual_seed(0)
    model = build("resunet", PROTOCOL).eval()
    masks = {}
    for dev in ("cpu", "cuda"):
        device = torch.device(dev)
        masks[dev] = predict_masks(prepare_model(model, device), subjects[0].image, PROTOCOL, device, 0.5)
    assert (masks["cuda"] != masks["cpu"]).mean() < 0.01  # bf16 on the GPU, fp32 on the CPU
