"""nnunet-2d: nnU-Net's 2-D network planned for the protocol's window as nnU-Net's planner would."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ichbench.models import registry
from ichbench.models.nnunet import plan_2d
from ichbench.protocol import load_protocol


@pytest.mark.parametrize(
    ("window", "stages", "features"),
    [
        (160, 6, (32, 64, 128, 256, 512, 512)),  # 160 -> 5 px: five poolings, features capped at 512
        (128, 6, (32, 64, 128, 256, 512, 512)),  # paper-nifti: 128 -> 4 px
        (64, 5, (32, 64, 128, 256, 512)),  # cpu: 64 -> 4 px
        (32, 4, (32, 64, 128, 256)),
        (40, 4, (32, 64, 128, 256)),  # 40 -> 20 -> 10 -> 5: the side must stay even to halve
    ],
)
def test_the_plan_follows_nnunets_rules(window: int, stages: int, features: tuple[int, ...]) -> None:
    plan = plan_2d(window)
    assert plan.stages == stages and plan.features == features
    assert plan.strides == (1,) + (2,) * (stages - 1)
    assert window // 2 ** (stages - 1) >= 4


@pytest.mark.parametrize("name", ["nnunet-2d", "nnunet-2d-resenc"])
def test_built_for_the_protocols_window_with_nnunets_layers(name: str) -> None:
    protocol = load_protocol("cpu")  # 64 px windows
    model = registry.build(name, protocol)
    assert model.input_multiple == 16
    kinds = {type(m) for m in model.modules()}
    assert nn.InstanceNorm2d in kinds and nn.LeakyReLU in kinds and nn.BatchNorm2d not in kinds
    assert model.decoder.deep_supervision is False
    x = torch.randn(2, 1, 64, 64)
    assert model(x).shape == (2, 1, 64, 64)
    registry.check_model(name, protocol)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert max(c.out_channels for c in convs) == 512
    assert all(c.bias is not None for c in convs if c.kernel_size == (3, 3))
