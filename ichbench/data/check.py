"""Validation summary of a loaded data set."""

from __future__ import annotations

from typing import Any

import numpy as np

from ichbench.data.dataset import SUBTYPES, Dataset


def summarize(ds: Dataset) -> dict[str, Any]:
    """Counts that describe a data set: patients, slices, positive slices, mask pixels, subtypes."""
    slices = sum(len(s.image) for s in ds.subjects)
    positive = sum(int(s.positive.sum()) for s in ds.subjects)
    labels = np.concatenate([s.labels for s in ds.subjects])
    sizes = sorted({f"{s.image.shape[2]}x{s.image.shape[1]}" for s in ds.subjects})
    return {
        "layout": ds.layout,
        "name": ds.name,
        "patients": len(ds.subjects),
        "patients_with_hemorrhage": sum(s.has_hemorrhage for s in ds.subjects),
        "slices": slices,
        "positive_slices": positive,
        "mask_pixels": int(sum(int(np.count_nonzero(s.mask)) for s in ds.subjects)),
        "subtype_slices": {name: int(labels[:, i].sum()) for i, name in enumerate(SUBTYPES)},
        "fracture_slices": int(labels[:, -1].sum()),
        "slice_sizes": sizes,
        "bone_window": all(s.bone is not None for s in ds.subjects),
        "fingerprint": ds.fingerprint,
        "excluded": list(ds.excluded),
    }
