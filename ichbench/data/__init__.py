"""Every way data enters ichbench: readers, the phantom, validation, cache and fetching."""

from __future__ import annotations

from ichbench.data.dataset import LABELS, SUBTYPES, Dataset, Subject, window_hu
from ichbench.data.load import load_dataset

__all__ = ["LABELS", "SUBTYPES", "Dataset", "Subject", "load_dataset", "window_hu"]
