"""The paper's thresholding, closing and opening in torch, for masks already on a GPU.

Bit-exact with ichbench.post (and so with OpenCV): square ones kernels anchored at k // 2 (an even
kernel reaches one pixel further down and right than up and left), the outside of the image neutral
(background for dilation, foreground for erosion). Separable max pooling, so any device torch runs on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def dilate(mask: torch.Tensor, k: int) -> torch.Tensor:
    """(B, H, W) bool -> max over the k x k window [y - k//2, y - k//2 + k - 1] x [the same in x]."""
    if k <= 1:
        return mask
    a = k // 2
    x = mask[:, None].to(torch.float32)
    x = F.max_pool2d(F.pad(x, (0, 0, a, k - 1 - a)), kernel_size=(k, 1), stride=1)
    x = F.max_pool2d(F.pad(x, (a, k - 1 - a, 0, 0)), kernel_size=(1, k), stride=1)
    return x[:, 0] > 0.5


def erode(mask: torch.Tensor, k: int) -> torch.Tensor:
    """Erosion as dilation of the complement: the outside, background there, is foreground here."""
    return ~dilate(~mask, k) if k > 1 else mask


def binarize_torch(prob: torch.Tensor, threshold: float, close: int = 10, open: int = 5) -> torch.Tensor:
    """(B, H, W) or (H, W) probabilities -> uint8 masks: > threshold, then closing and opening; 0 skips."""
    for name, k in (("close", close), ("open", open)):
        if int(k) != k or k < 0:
            raise ValueError(f"{name} kernel size must be an integer >= 0, got {k}")
    single = prob.dim() == 2
    mask = (prob[None] if single else prob) > threshold
    mask = erode(dilate(mask, close), close)
    mask = dilate(erode(mask, open), open)
    out = mask.to(torch.uint8)
    return out[0] if single else out
