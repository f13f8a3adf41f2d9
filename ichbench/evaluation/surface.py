"""Mask-based per-subject measures: surface distances (HD95, NSD) and lesion-wise detection.

They need a subject's predicted and true volumes, so they are computed once, at scoring, and kept in
the per-subject rows; the metric table (metrics.py) then averages or pools them. Distances are in
voxels, each voxel one unit along every axis, unless a spacing in millimetres is given.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ichbench import post

NSD_TOLERANCE_VOXELS = 5.0  # about 2 mm in-plane at CT-ICH's native 640 px (a pixel of roughly 0.4 mm)
NSD_TOLERANCE_MM = 2.0  # where the spacing is known (Metrics Reloaded suggests a task-specific tolerance)


def hd95(pred: np.ndarray, truth: np.ndarray) -> float:
    """95th-percentile symmetric Hausdorff distance in voxels between two binary volumes.

    Both empty: 0. Truth without prediction (or the reverse): the volume's diagonal, the largest
    distance possible, so a missed lesion is penalised rather than dropped.
    """
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    if not pred.any() and not truth.any():
        return 0.0
    if not pred.any() or not truth.any():
        return float(np.sqrt(sum(n * n for n in pred.shape)))
    to_truth, to_pred = _surface_distances(pred, truth, None)
    return float(max(np.percentile(to_truth, 95), np.percentile(to_pred, 95)))


def nsd(pred: np.ndarray, truth: np.ndarray, spacing: tuple[float, ...] | None = None) -> float:
    """Normalized surface distance (surface Dice): the share of both surfaces within the tolerance of the
    other (NSD_TOLERANCE_MM with a spacing, else NSD_TOLERANCE_VOXELS). A miss scores 0; both empty, NaN."""
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    if not pred.any() and not truth.any():
        return math.nan
    if not pred.any() or not truth.any():
        return 0.0
    tolerance = NSD_TOLERANCE_MM if spacing is not None else NSD_TOLERANCE_VOXELS
    to_truth, to_pred = _surface_distances(pred, truth, spacing)
    within = (to_truth <= tolerance).sum() + (to_pred <= tolerance).sum()
    return float(within / (len(to_truth) + len(to_pred)))


def _surface_distances(
    pred: np.ndarray, truth: np.ndarray, spacing: tuple[float, ...] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Distances from each surface voxel of pred to truth's surface, and the reverse (within their box)."""
    box = _bounding_box(pred | truth)
    p, t = _surface(pred[box]), _surface(truth[box])
    to_truth = ndimage.distance_transform_edt(~t, sampling=spacing)[p]
    to_pred = ndimage.distance_transform_edt(~p, sampling=spacing)[t]
    return to_truth, to_pred


def _bounding_box(mask: np.ndarray) -> tuple[slice, ...]:
    idx = np.nonzero(mask)
    return tuple(slice(max(int(i.min()) - 1, 0), int(i.max()) + 2) for i in idx)


def _surface(mask: np.ndarray) -> np.ndarray:
    # Outside the volume counts as background, so voxels on its faces are surface too.
    eroded = ndimage.binary_erosion(mask, border_value=0)
    return mask & ~eroded


def lesion_counts(
    pred: np.ndarray, truth: np.ndarray, slice_types: dict[str, np.ndarray] | None = None
) -> dict[str, int]:
    """Lesion-wise detection of one subject: 3-D connected components (26-connected); a true lesion is found
    when any predicted voxel overlaps it, a predicted component is a hit when it overlaps any true voxel.
    With `slice_types` (a type's name -> its (S,) per-slice flags), also per type: the true lesions that
    span a slice of that type (`lesions_true_<type>`) and how many of them are found (`lesions_found_<type>`)."""
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    # The lesion stage's own components (post.label: scipy.ndimage.label's with FULL_3D, bit for bit).
    true_labels, n_true = post.label(np.ascontiguousarray(truth, np.uint8))
    pred_labels, n_pred = post.label(np.ascontiguousarray(pred, np.uint8))
    found = np.unique(true_labels[pred & truth])
    counts = {
        "lesions_true": int(n_true),
        "lesions_found": int(len(found)),
        "lesions_pred": int(n_pred),
        "lesions_pred_hit": int(len(np.unique(pred_labels[pred & truth]))),
    }
    if slice_types:
        counts |= _typed(true_labels, n_true, set(found.tolist()), slice_types)
    return counts


def _typed(labels: np.ndarray, n: int, found: set[int], slice_types: dict[str, np.ndarray]) -> dict[str, int]:
    """Per type, the true lesions on a slice of that type and those found. A 26-connected lesion spans
    consecutive slices, so its first and last slice (post.components) give all of them."""
    spans = post.components((labels > 0).astype(np.uint8), np.zeros(labels.shape, np.float32))[:, 3:5]
    out = {}
    for name, flags in slice_types.items():
        typed = [i + 1 for i, (a, b) in enumerate(spans.astype(int)) if np.asarray(flags)[a : b + 1].any()]
        out[f"lesions_true_{name}"] = len(typed)
        out[f"lesions_found_{name}"] = sum(i in found for i in typed)
    return out
