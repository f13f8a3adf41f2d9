"""The paper's augmentation (rotation, shift, shear, zoom; nearest fill), in batch on the training device.

Ranges follow Keras' ImageDataGenerator, which the CT-ICH code used: rotation and shear in degrees,
shifts as fractions of the window, zoom factors drawn from [1 - zoom, 1 + zoom] per axis, and
fill_mode="nearest" (edge pixels repeated). Image and mask share each sample's transform; the image
is resampled bilinearly, the mask by nearest neighbour so it stays binary.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ichbench.protocol import Augmentation


def random_affines(n: int, aug: Augmentation, generator: torch.Generator) -> torch.Tensor:
    """(n, 2, 3) matrices mapping output to input in affine_grid's normalised coordinates."""
    u = torch.rand((n, 6), generator=generator, dtype=torch.float64) * 2 - 1
    theta = u[:, 0] * math.radians(aug.rotation)
    tx, ty = u[:, 1] * aug.shift * 2, u[:, 2] * aug.shift * 2  # fraction of size -> [-1, 1] units
    shear = u[:, 3] * math.radians(aug.shear)
    zx, zy = 1 + u[:, 4] * aug.zoom, 1 + u[:, 5] * aug.zoom
    eye = torch.eye(3, dtype=torch.float64).repeat(n, 1, 1)
    rot, move, skew, scale = eye.clone(), eye.clone(), eye.clone(), eye.clone()
    rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = theta.cos(), -theta.sin(), theta.sin(), theta.cos()
    move[:, 0, 2], move[:, 1, 2] = tx, ty
    skew[:, 0, 1], skew[:, 1, 1] = -shear.sin(), shear.cos()
    scale[:, 0, 0], scale[:, 1, 1] = zx, zy
    return (rot @ move @ skew @ scale)[:, :2, :].float()


def augment(
    images: torch.Tensor, masks: torch.Tensor, aug: Augmentation, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply one random transform per sample to float (B, C, h, w) images and (B, 1, h, w) masks."""
    if not aug.enabled:
        return images, masks
    affines = random_affines(len(images), aug, generator).to(images.device)
    grid = F.affine_grid(affines, list(images.shape), align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    masks = F.grid_sample(masks.float(), grid, mode="nearest", padding_mode="border", align_corners=False)
    return images, masks
