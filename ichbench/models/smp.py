"""U-Net, U-Net++ and LinkNet from segmentation-models-pytorch (resnet34 encoder, random init).

Any smp encoder or timm model (`encoder_name = "tu-..."`) may be chosen, and a shallower one
(`encoder_depth = 3`: three poolings, for small windows; U-Net and U-Net++ then keep smp's decoder
widths of the levels that remain, 64, 32, 16). Encoders start random
(`encoder_weights = None`, as the paper trains from scratch); pretrained ones (`"imagenet"`, or True
for `tu-` encoders) are read from the local Hugging Face cache only: a run never downloads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import huggingface_hub
import segmentation_models_pytorch as smp
from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled
from torch import nn

from ichbench.errors import ModelError


@contextmanager
def _offline() -> Iterator[None]:
    """Hugging Face hub lookups answer from the local cache or fail, without touching the network."""
    before = huggingface_hub.constants.HF_HUB_OFFLINE
    huggingface_hub.constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        huggingface_hub.constants.HF_HUB_OFFLINE = before


# smp's default decoder widths, deepest first; a shallower encoder keeps those of the levels it keeps.
DECODER_CHANNELS = (256, 128, 64, 32, 16)


def _build(
    cls: type, in_channels: int, encoder_name: str = "resnet34", encoder_weights: object = None, **kw: object
) -> nn.Module:
    try:
        with _offline():
            model = cls(
                encoder_name=encoder_name, encoder_weights=encoder_weights, in_channels=in_channels, classes=1, **kw
            )
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:
        raise ModelError(
            f"encoder weights {encoder_weights!r} of {encoder_name} are not in the local Hugging Face cache "
            f"({huggingface_hub.constants.HF_HUB_CACHE}); ichbench never downloads during a run: fetch them "
            f"there once beforehand, or use encoder_weights = None ({type(exc).__name__})"
        ) from None
    model.input_multiple = 2 ** int(kw.get("encoder_depth", 5))  # the encoder halves the size at each stage
    return model


def _decoder_widths(kw: dict) -> dict:
    """kw with decoder_channels matching a given encoder_depth (U-Net and U-Net++ need one per level)."""
    if "encoder_depth" not in kw or "decoder_channels" in kw:
        return kw
    return {**kw, "decoder_channels": DECODER_CHANNELS[-int(kw["encoder_depth"]) :]}


def unet(in_channels: int = 1, **kw: object) -> nn.Module:
    """U-Net with a resnet34 encoder."""
    return _build(smp.Unet, in_channels, **_decoder_widths(kw))


def unetplusplus(in_channels: int = 1, **kw: object) -> nn.Module:
    """U-Net++ (nested skip connections) with a resnet34 encoder."""
    return _build(smp.UnetPlusPlus, in_channels, **_decoder_widths(kw))


def linknet(in_channels: int = 1, **kw: object) -> nn.Module:
    """LinkNet with a resnet34 encoder."""
    return _build(smp.Linknet, in_channels, **kw)
