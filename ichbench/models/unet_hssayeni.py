"""The original U-Net of the CT-ICH paper (Hssayeni et al., Data 2020), after its Keras code.

Two 3x3 conv + ReLU per level, 64 to 1024 filters, dropout 0.5 after the two deepest levels,
up-sampling by 2 followed by a 2x2 convolution ('same' padding as Keras pads it: right and bottom),
skip concatenation, then a 3x3 conv to 2 channels and a 1x1 conv to one logit.
"""

from __future__ import annotations

import torch
from torch import nn


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.ReLU(inplace=True),
    )


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.ZeroPad2d((0, 1, 0, 1)),
        nn.Conv2d(cin, cout, 2),
        nn.ReLU(inplace=True),
    )


class UNetHssayeni(nn.Module):
    """The CT-ICH U-Net (about 31 million parameters at width 64)."""

    input_multiple = 16  # four 2x2 poolings

    def __init__(self, in_channels: int = 1, width: int = 64, dropout: float = 0.5) -> None:
        super().__init__()
        w = [width * 2**i for i in range(5)]
        self.enc = nn.ModuleList(_double_conv(c, o) for c, o in zip([in_channels] + w[:-1], w))
        self.drop = nn.Dropout(dropout)
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList(_up(w[i + 1], w[i]) for i in reversed(range(4)))
        self.dec = nn.ModuleList(_double_conv(2 * w[i], w[i]) for i in reversed(range(4)))
        self.head = nn.Sequential(nn.Conv2d(w[0], 2, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(2, 1, 1))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")  # Keras he_normal
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) -> (B, 1, h, w) logits; h and w divisible by 16."""
        skips = []
        for i, block in enumerate(self.enc):
            x = block(x if i == 0 else self.pool(x))
            if i >= 3:  # dropout at the two deepest levels
                x = self.drop(x)
            skips.append(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips[:-1])):
            x = dec(torch.cat([skip, up(x)], dim=1))
        return self.head(x)


def unet_hssayeni(in_channels: int = 1, width: int = 64, **kw: object) -> nn.Module:
    """The original CT-ICH U-Net."""
    return UNetHssayeni(in_channels=in_channels, width=width, **kw)
