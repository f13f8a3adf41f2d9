"""U-Net, U-Net++ and LinkNet from segmentation-models-pytorch (resnet34 encoder, random init)."""

from __future__ import annotations

import segmentation_models_pytorch as smp
from torch import nn


def _build(cls: type, in_channels: int, encoder_name: str = "resnet34", **kw: object) -> nn.Module:
    # encoder_weights=None: weights cannot be downloaded at run time, and the paper trains from scratch.
    model = cls(encoder_name=encoder_name, encoder_weights=None, in_channels=in_channels, classes=1, **kw)
    model.input_multiple = 2 ** int(kw.get("encoder_depth", 5))  # the encoder halves the size at each stage
    return model


def unet(in_channels: int = 1, **kw: object) -> nn.Module:
    """U-Net with a resnet34 encoder."""
    return _build(smp.Unet, in_channels, **kw)


def unetplusplus(in_channels: int = 1, **kw: object) -> nn.Module:
    """U-Net++ (nested skip connections) with a resnet34 encoder."""
    return _build(smp.UnetPlusPlus, in_channels, **kw)


def linknet(in_channels: int = 1, **kw: object) -> nn.Module:
    """LinkNet with a resnet34 encoder."""
    return _build(smp.Linknet, in_channels, **kw)
