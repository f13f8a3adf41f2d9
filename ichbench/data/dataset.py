"""The one in-memory representation every reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

# Per-slice label columns, in the order of the CT-ICH CSV files.
LABELS = (
    "Intraventricular",
    "Intraparenchymal",
    "Subarachnoid",
    "Epidural",
    "Subdural",
    "No_Hemorrhage",
    "Fracture_Yes_No",
)
SUBTYPES = LABELS[:5]

# The brain window of the paper (window_specs [40, 120]): level 40 HU, width 120 HU.
BRAIN_WINDOW = (40.0, 120.0)
BONE_WINDOW = (700.0, 3200.0)


def window_hu(hu: np.ndarray, level: float = BRAIN_WINDOW[0], width: float = BRAIN_WINDOW[1]) -> np.ndarray:
    """Map Hounsfield units to uint8 through a (level, width) display window."""
    low = level - width / 2.0
    scaled = (np.asarray(hu, np.float32) - low) * (255.0 / width)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


@dataclass
class Subject:
    """One patient: slices in the brain window, masks, labels, and what else is known."""

    id: str
    image: np.ndarray  # (S, H, W) uint8, brain window
    mask: np.ndarray  # (S, H, W) uint8, 0/1
    labels: np.ndarray  # (S, len(LABELS)) uint8 flags
    slice_numbers: np.ndarray  # (S,) int, as the source numbers them
    bone: np.ndarray | None = None  # (S, H, W) uint8, bone window, if loaded
    subdural: np.ndarray | None = None  # (S, H, W) uint8, subdural window (from HU), if loaded
    spacing: tuple[float, float, float] | None = None  # (slice, row, col) in mm
    # (S, fH, fW) uint8 0/1: the mask at the data set's own resolution, kept when the slices were
    # downsampled f-fold on load, for scoring at native resolution ([metrics] resolution).
    native_mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = self.image.shape[0]
        if self.mask.shape != self.image.shape:
            raise ValueError(f"subject {self.id}: mask {self.mask.shape} != image {self.image.shape}")
        if self.labels.shape != (n, len(LABELS)) or self.slice_numbers.shape != (n,):
            raise ValueError(f"subject {self.id}: labels or slice numbers do not match {n} slices")
        if self.native_mask is not None and len(self.native_mask) != n:
            raise ValueError(f"subject {self.id}: {len(self.native_mask)} native masks for {n} slices")

    def truth(self, native: bool) -> np.ndarray:
        """The masks to score against: at the data set's own resolution when `native`, else as loaded."""
        return self.native_mask if native and self.native_mask is not None else self.mask

    @property
    def positive(self) -> np.ndarray:
        """Per slice: does the ground-truth mask hold any hemorrhage."""
        return self.mask.reshape(len(self.mask), -1).any(axis=1)

    @property
    def has_hemorrhage(self) -> bool:
        """Does any slice of this subject hold hemorrhage."""
        return bool(self.positive.any())


@dataclass
class Dataset:
    """A data set: its layout, a content fingerprint, and its subjects in a fixed order."""

    name: str
    layout: str
    fingerprint: str
    subjects: list[Subject] = field(default_factory=list)
    excluded: tuple[str, ...] = ()  # subject ids removed by a protocol's [data] exclude

    def without(self, ids: tuple[str, ...] | list[str]) -> Dataset:
        """The same data set less these subjects (ids it does not hold are ignored); same fingerprint."""
        drop = set(ids) & set(self.ids)
        if not drop:
            return self
        kept = [s for s in self.subjects if s.id not in drop]
        return replace(self, subjects=kept, excluded=tuple(sorted(set(self.excluded) | drop)))

    def subject(self, subject_id: str) -> Subject:
        """The subject with this id."""
        for s in self.subjects:
            if s.id == subject_id:
                return s
        raise KeyError(subject_id)

    @property
    def ids(self) -> list[str]:
        """Subject ids in order."""
        return [s.id for s in self.subjects]

    def subset(self, ids: list[str]) -> list[Subject]:
        """The subjects with these ids, in the given order."""
        by_id = {s.id: s for s in self.subjects}
        return [by_id[i] for i in ids]
