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
from ichbench.evaluation.metrics import detected  # noqa: E402
from ichbench.report.plots import png  # noqa: E402
from ichbench.rundir import PREDICTIONS, JobDir  # noqa: E402


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
    missed = ref[detected(ref.truth_pixels, min_pixels) & (ref.tp == 0)]
    if len(missed):
        cases.append(_case(missed.loc[missed.truth_pixels.idxmax()], f"missed lesion ({reference})"))
    return cases


def _case(row: pd.Series, label: str) -> Case:
    return Case(str(row.subject), int(row.slice), int(row.fold), label)


COLUMNS = 4  # panels a row: 4 x 2.6 in = 936 px at 90 dpi, each panel over 200 px
PANEL = 2.6  # inches


def render_case(case: Case, dataset: Dataset, jobs: dict[str, list[JobDir]]) -> bytes:
    """The whole slice with the ground truth (green), then per model (and per seed, for a run of several) a
    crop around the lesion with the ground truth (green) and the prediction (red) as contours, four panels
    a row. `jobs`: each model label's job folders (report.runs.Runs.jobs)."""
    subject = dataset.subject(case.subject)
    z = int(np.flatnonzero(np.asarray(subject.slice_numbers) == case.slice)[0])
    preds = {title: _prediction(path, case, z) for title, path in panels(case, jobs)}
    if not preds:  # no job of the case's fold: each model says it has no masks
        preds = {label: None for label in jobs}
    image, truth = _at_prediction_size(subject, z, [p for p in preds.values() if p is not None])
    box = crop_box([truth, *(p for p in preds.values() if p is not None)], image.shape)
    shown = [("whole slice, ground truth", None, None)] + [(t, p, box) for t, p in preds.items()]
    rows = -(-len(shown) // COLUMNS)
    fig, axes = plt.subplots(rows, COLUMNS, figsize=(PANEL * COLUMNS, (PANEL + 0.35) * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, pred, crop) in zip(axes.flat, shown):
        window = (slice(None), slice(None)) if crop is None else crop
        ax.imshow(image[window], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        _contour(ax, truth[window], "lime")
        if pred is not None:
            _contour(ax, pred[window], "red")
        if crop is None:
            r, c = box
            ax.add_patch(
                plt.Rectangle(
                    (c.start, r.start), c.stop - c.start, r.stop - r.start, fill=False, edgecolor="yellow", linewidth=1
                )
            )
        # A model whose job saved no masks is said to have none: a panel never passes truth off as its output.
        ax.set_title(title if crop is None else f"{title} (crop)" if pred is not None else f"{title}: no saved masks")
    fig.suptitle(f"subject {case.subject}, slice {case.slice}: {case.label}")
    fig.tight_layout()
    return png(fig)


def _at_prediction_size(subject, z: int, preds: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The slice and its truth at the size the masks were made: native for a natively scored run (the image
    repeated up, the truth never downsampled), else as loaded."""
    image = np.asarray(subject.image[z])
    shape = preds[0].shape if preds else image.shape
    if subject.native_mask is None or shape == image.shape:
        return image, np.asarray(subject.mask[z])
    f = shape[0] // image.shape[0]
    return np.repeat(np.repeat(image, f, axis=0), f, axis=1), np.asarray(subject.native_mask[z])


def crop_box(masks: list[np.ndarray], shape: tuple[int, int], margin: float = 0.5) -> tuple[slice, slice]:
    """A square around everything the masks mark, padded by `margin` of its size, at least a quarter of
    the slice's side, inside the slice; the slice's centre when the masks are empty."""
    marked = np.zeros(shape, bool)
    for m in masks:
        marked |= np.asarray(m, bool)
    h, w = shape
    if marked.any():
        rows, cols = np.flatnonzero(marked.any(1)), np.flatnonzero(marked.any(0))
        cy, cx = (rows[0] + rows[-1] + 1) / 2, (cols[0] + cols[-1] + 1) / 2
        side = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) * (1 + 2 * margin)
    else:
        cy, cx, side = h / 2, w / 2, 0
    side = int(min(max(side, min(h, w) / 4), h, w))
    top = int(min(max(round(cy - side / 2), 0), h - side))
    left = int(min(max(round(cx - side / 2), 0), w - side))
    return slice(top, top + side), slice(left, left + side)


def panels(case: Case, jobs: dict[str, list[JobDir]]) -> list[tuple[str, Path]]:
    """(title, job folder) of every model's job of the case's fold: one per seed, titled with it."""
    return [
        (label if j.seed is None else f"{label}, seed {j.seed}", j.path)
        for label, dirs in jobs.items()
        for j in dirs
        if j.fold == case.fold
    ]


def has_predictions(jobs: list[JobDir]) -> bool:
    """Whether any of a model's jobs saved its masks (a run does; an evidence folder keeps counts only)."""
    return any((j.path / PREDICTIONS).is_file() for j in jobs)


def _prediction(job: Path, case: Case, z: int) -> np.ndarray | None:
    path = job / PREDICTIONS
    if not path.exists():
        return None
    with np.load(path) as masks:
        return masks[case.subject][z] if case.subject in masks.files else None


def _contour(ax: plt.Axes, mask: np.ndarray, color: str) -> None:
    if mask.any() and not mask.all():
        ax.contour(mask.astype(float), levels=[0.5], colors=color, linewidths=1.2)
