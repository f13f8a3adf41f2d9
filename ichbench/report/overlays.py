"""Qualitative figures like the paper's Figures 6 and 7: one slice, the ground truth and every model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ichbench.data.dataset import SUBTYPES, Dataset  # noqa: E402
from ichbench.report.plots import png  # noqa: E402


@dataclass(frozen=True)
class Case:
    """A slice chosen for display and why."""

    subject: str
    slice: int
    fold: int
    label: str


def choose_cases(per_slice: pd.DataFrame, reference: str, min_pixels: int) -> list[Case]:
    """Per subtype the slice with the largest lesion, plus the worst false positive and missed lesion."""
    ref = per_slice[per_slice.model == reference]
    cases: list[Case] = []
    for subtype in SUBTYPES:
        rows = ref[(ref[subtype.lower()] == 1) & (ref.truth_pixels > 0)]
        if len(rows):
            cases.append(_case(rows.loc[rows.truth_pixels.idxmax()], subtype.lower()))
    false_pos = ref[(ref.truth_pixels == 0) & (ref.pred_pixels > 0)]
    if len(false_pos):
        cases.append(_case(false_pos.loc[false_pos.pred_pixels.idxmax()], f"false positive ({reference})"))
    missed = ref[(ref.truth_pixels > min_pixels) & (ref.tp == 0)]
    if len(missed):
        cases.append(_case(missed.loc[missed.truth_pixels.idxmax()], f"missed lesion ({reference})"))
    return cases


def _case(row: pd.Series, label: str) -> Case:
    return Case(str(row.subject), int(row.slice), int(row.fold), label)


def render_case(case: Case, dataset: Dataset, run_dirs: dict[str, Path], models: list[str]) -> bytes:
    """Brain window with the ground truth (green) and each model's prediction (red) as contours."""
    subject = dataset.subject(case.subject)
    z = int(np.flatnonzero(np.asarray(subject.slice_numbers) == case.slice)[0])
    image, truth = np.asarray(subject.image[z]), np.asarray(subject.mask[z])
    panels = [("ground truth", None)] + [(m, _prediction(run_dirs[m], m, case, z)) for m in models]
    fig, axes = plt.subplots(1, len(panels), figsize=(1.9 * len(panels), 2.1), squeeze=False)
    for ax, (title, pred) in zip(axes[0], panels):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        _contour(ax, truth, "lime")
        if pred is not None:
            _contour(ax, pred, "red")
        ax.set_title(title, fontsize=7)
        ax.axis("off")
    fig.suptitle(f"subject {case.subject}, slice {case.slice}: {case.label}", fontsize=8)
    return png(fig)


def _prediction(run_dir: Path, model: str, case: Case, z: int) -> np.ndarray | None:
    path = run_dir / "jobs" / model / f"fold{case.fold}" / "predictions.npz"
    if not path.exists():
        return None
    with np.load(path) as masks:
        return masks[case.subject][z] if case.subject in masks.files else None


def _contour(ax: plt.Axes, mask: np.ndarray, color: str) -> None:
    if mask.any() and not mask.all():
        ax.contour(mask.astype(float), levels=[0.5], colors=color, linewidths=0.8)
