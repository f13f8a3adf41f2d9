"""ResUNet after section 4.3 of the seed paper.

Residual blocks of two 3x3 conv + BN + ReLU with an identity shortcut (a 1x1 projection where the
width changes), five encoder levels joined by 2x2 max pooling, and a decoder of 2x2 transposed
convolutions, skip concatenation and residual blocks; a 1x1 convolution gives one logit channel.
"""

from __future__ import annotations

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """conv-BN-ReLU, conv-BN, plus the shortcut, then ReLU."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.shortcut = (
            nn.Identity() if cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual forward."""
        return self.act(self.body(x) + self.shortcut(x))


class ResUNet(nn.Module):
    """Five-level residual U-Net."""

    def __init__(self, in_channels: int = 1, width: int = 32, levels: int = 5) -> None:
        super().__init__()
        widths = [width * 2**i for i in range(levels)]
        self.input_multiple = 2 ** (levels - 1)
        self.down = nn.ModuleList()
        cin = in_channels
        for w in widths:
            self.down.append(ResidualBlock(cin, w))
            cin = w
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList(nn.ConvTranspose2d(w * 2, w, 2, stride=2) for w in reversed(widths[:-1]))
        self.dec = nn.ModuleList(ResidualBlock(w * 2, w) for w in reversed(widths[:-1]))
        self.head = nn.Conv2d(widths[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) -> (B, 1, h, w) logits; h and w divisible by 2**(levels - 1)."""
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips[:-1])):
            x = dec(torch.cat([up(x), skip], dim=1))
        return self.head(x)


def resunet(in_channels: int = 1, width: int = 32, **kw: object) -> nn.Module:
    """The ResUNet of section 4.3 (base width 32, so 32 to 512 filters)."""
    return ResUNet(in_channels=in_channels, width=width, **kw)
