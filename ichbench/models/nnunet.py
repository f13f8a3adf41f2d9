"""nnU-Net's 2-D network (dynamic-network-architectures), configured as nnU-Net's planner would for the window.

The planner's rules for a 2-D configuration: halve the patch while the feature map stays at least
4 pixels (and the side is even), 32 features in the first stage doubling per stage up to 512,
3 x 3 convolutions, two per stage in encoder and decoder, instance normalisation, leaky ReLU, conv
bias; deep supervision off here (ichbench trains one output). `nnunet-2d-resenc` is the residual-
encoder variant (nnU-Net's ResEnc: basic residual blocks, 1, 3, 4, 6, 6, ... per stage). Random init.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from torch import nn

MIN_FEATURE_MAP = 4
BASE_FEATURES = 32
MAX_FEATURES_2D = 512
RESENC_BLOCKS = (1, 3, 4, 6, 6, 6, 6, 6)


@dataclass(frozen=True)
class Plan2D:
    """Stage layout for a square window: strides per stage and features per stage."""

    window: int
    strides: tuple[int, ...]
    features: tuple[int, ...]

    @property
    def stages(self) -> int:
        """Number of resolution stages (poolings + 1)."""
        return len(self.strides)


def plan_2d(window: int) -> Plan2D:
    """nnU-Net's pooling plan for a window side: pool while the map stays >= 4 px and the side even."""
    size, pools = int(window), 0
    while size % 2 == 0 and size // 2 >= MIN_FEATURE_MAP:
        size, pools = size // 2, pools + 1
    strides = (1,) + (2,) * pools
    features = tuple(min(BASE_FEATURES * 2**i, MAX_FEATURES_2D) for i in range(pools + 1))
    return Plan2D(int(window), strides, features)


def _architectures():
    """dynamic-network-architectures' unet module, imported quietly (it triggers a torch.jit deprecation)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from dynamic_network_architectures.architectures import unet
    return unet


def _common(in_channels: int, plan: Plan2D) -> dict:
    return {
        "input_channels": in_channels,
        "n_stages": plan.stages,
        "features_per_stage": list(plan.features),
        "conv_op": nn.Conv2d,
        "kernel_sizes": [[3, 3]] * plan.stages,
        "strides": [[s, s] for s in plan.strides],
        "num_classes": 1,
        "n_conv_per_stage_decoder": [2] * (plan.stages - 1),
        "conv_bias": True,
        "norm_op": nn.InstanceNorm2d,
        "norm_op_kwargs": {"eps": 1e-5, "affine": True},
        "nonlin": nn.LeakyReLU,
        "nonlin_kwargs": {"inplace": True},
        "deep_supervision": False,
    }


def nnunet_2d(in_channels: int = 1, window: int = 160) -> nn.Module:
    """nnU-Net's PlainConvUNet for `window` x `window` inputs (ichbench passes the protocol's window)."""
    PlainConvUNet = _architectures().PlainConvUNet
    plan = plan_2d(window)
    model = PlainConvUNet(**_common(in_channels, plan), n_conv_per_stage=[2] * plan.stages)
    model.input_multiple = 2 ** (plan.stages - 1)
    model.channels_last = False  # its instance norms run slower channels-last (a step 0.84x on 2 CPU cores)
    return model


def nnunet_2d_resenc(in_channels: int = 1, window: int = 160) -> nn.Module:
    """nnU-Net's ResidualEncoderUNet (basic blocks 1, 3, 4, 6, 6, ...) for `window` x `window` inputs."""
    ResidualEncoderUNet = _architectures().ResidualEncoderUNet
    plan = plan_2d(window)
    blocks = list(RESENC_BLOCKS[: plan.stages]) + [RESENC_BLOCKS[-1]] * max(0, plan.stages - len(RESENC_BLOCKS))
    model = ResidualEncoderUNet(**_common(in_channels, plan), n_blocks_per_stage=blocks)
    model.input_multiple = 2 ** (plan.stages - 1)
    model.channels_last = False  # as nnunet_2d
    return model
