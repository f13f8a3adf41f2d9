"""`ichbench predict`: segment a new scan with a bundle; write the mask, overlays and a volume summary."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import torch
from PIL import Image
from scipy import ndimage

from ichbench import post
from ichbench.atomic import atomic_save, atomic_write_text
from ichbench.inference.bundle import Bundle, bundle_model
from ichbench.inference.infer import predict_masks, resample_input
from ichbench.inference.scan import Scan
from ichbench.models.contract import uses_morphology


def predict_scan(bundle: Bundle, scan: Scan, device: torch.device, ensemble: bool = False) -> np.ndarray:
    """(S, H, W) uint8 mask of a scan at its own resolution: the scan resampled to the slice size the model
    saw in training, the stitched probabilities upsampled back to the scan's size, then thresholded and
    post-processed there with kernels scaled to its pixels (Bundle.model_shape, Bundle.protocol_at)."""
    model, threshold = bundle_model(bundle, ensemble)
    shape = tuple(scan.image.shape[1:])
    image = scan.model_input(bundle.protocol.input)  # windowed at full size, then resampled, as on load
    image = resample_input(image, bundle.model_shape(shape))
    protocol = bundle.protocol_at(shape, ensemble)
    morphology, precision = uses_morphology(model), bundle.precision(device)
    return predict_masks(model.to(device), image, protocol, device, threshold, morphology, shape, precision)


def summarize_mask(mask: np.ndarray, spacing: tuple[float, float, float] | None) -> tuple[dict, pd.DataFrame]:
    """Per-slice yes/no and area; total volume (mL), connected lesions, largest lesion volume."""
    voxel_ml = float(np.prod(spacing)) / 1000.0 if spacing else None
    pixel_mm2 = float(spacing[1] * spacing[2]) if spacing else None
    areas = mask.reshape(len(mask), -1).sum(1)
    per_slice = pd.DataFrame(
        {
            "slice": np.arange(1, len(mask) + 1),
            "hemorrhage": areas > 0,
            "area_pixels": areas,
            "area_mm2": areas * pixel_mm2 if pixel_mm2 else np.nan,
        }
    )
    labels, count = post.label(np.ascontiguousarray(mask, np.uint8))
    sizes = np.bincount(labels.ravel())[1:] if count else np.array([0])
    voxels = int(mask.sum())
    summary = {
        "slices": len(mask),
        "slices_with_hemorrhage": int((areas > 0).sum()),
        "voxels": voxels,
        "spacing_mm": list(spacing) if spacing else None,
        "volume_ml": voxels * voxel_ml if voxel_ml else None,
        "lesions": int(count),
        "largest_lesion_voxels": int(sizes.max()),
        "largest_lesion_ml": int(sizes.max()) * voxel_ml if voxel_ml else None,
    }
    return summary, per_slice


def write_prediction(out: Path, scan: Scan, mask: np.ndarray, summary: dict, per_slice: pd.DataFrame) -> None:
    """mask.nii.gz (the input's geometry), overlays/slice_NNN.png, summary.json and summary.csv."""
    out.mkdir(parents=True, exist_ok=True)
    header = scan.header.copy() if scan.header is not None else None
    image = nib.Nifti1Image(scan.to_volume(mask).astype(np.uint8), scan.affine, header=header)
    image.set_data_dtype(np.uint8)
    image.header.set_slope_inter(1, 0)
    atomic_save(out / "mask.nii.gz", lambda p: nib.save(image, str(p)), suffix=".nii.gz")
    overlays = out / "overlays"
    overlays.mkdir(exist_ok=True)
    for z in np.flatnonzero(mask.reshape(len(mask), -1).any(1)):
        overlay(scan.image[z], mask[z]).save(overlays / f"slice_{z + 1:03d}.png")
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    atomic_write_text(out / "summary.csv", per_slice.to_csv(index=False, float_format="%.4g"))


def overlay(image: np.ndarray, mask: np.ndarray) -> Image.Image:
    """The brain window in grey, hemorrhage tinted red with a solid red outline."""
    rgb = np.repeat(image[..., None], 3, axis=2).astype(np.float32)
    inside = mask.astype(bool)
    rgb[inside] = rgb[inside] * 0.6 + np.array([255, 0, 0]) * 0.4
    edge = inside & ~ndimage.binary_erosion(inside)
    rgb[edge] = (255, 0, 0)
    return Image.fromarray(rgb.astype(np.uint8), mode="RGB")
