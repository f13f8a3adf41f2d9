"""Score a model on labelled subjects: masks through ichbench.post, then per-slice and per-subject rows."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ichbench.data.dataset import LABELS, SUBTYPES, Subject
from ichbench.data.inputs import subject_input
from ichbench.evaluation.metrics import Counts, count_scores, slice_counts
from ichbench.evaluation.surface import hd95, lesion_counts, nsd
from ichbench.inference.infer import predict_masks, resample_input
from ichbench.models.contract import uses_morphology
from ichbench.protocol import Protocol


@dataclass
class Scores:
    """Rows for per_slice.csv and per_subject.csv, and the predicted masks by subject."""

    per_slice: list[dict] = field(default_factory=list)
    per_subject: list[dict] = field(default_factory=list)
    masks: dict[str, np.ndarray] = field(default_factory=dict)


def score_subjects(
    model: torch.nn.Module,
    subjects: list[Subject],
    protocol: Protocol,
    device: torch.device,
    threshold: float,
    tags: dict[str, object],
    input_shape: tuple[int, int] | None = None,
    precision: str = "fp32",
) -> Scores:
    """Predict (in `precision`) and score every subject; `tags` (model, fold, ...) are copied into every row.
    With `input_shape`, slices are resampled to that size for the model (a bundle on foreign data)."""
    scores = Scores()
    native = protocol.metrics.native
    for s in subjects:
        truth = s.truth(native)  # at native resolution the masks are made there too, never downsampled
        image = subject_input(s, protocol.input)
        image = image if input_shape is None else resample_input(image, input_shape)
        morphology = uses_morphology(model)
        pred = predict_masks(model, image, protocol, device, threshold, morphology, truth.shape[1:], precision)
        add_subject(scores, s, pred, tags, truth)
    return scores


def add_subject(
    scores: Scores, s: Subject, pred: np.ndarray, tags: dict[str, object], truth: np.ndarray | None = None
) -> None:
    """Append one subject's rows (and mask) to `scores`, scored against `truth` (default: its masks)."""
    truth = s.mask if truth is None else truth
    counts = slice_counts(pred, truth)
    labels = np.asarray(s.labels)
    for i, k in enumerate(np.asarray(s.slice_numbers)):
        row = {**tags, "subject": s.id, "slice": int(k)}
        row.update({name: int(counts[name][i]) for name in counts})
        row.update({name.lower(): int(labels[i, LABELS.index(name)]) for name in SUBTYPES})
        scores.per_slice.append(row)
    spacing = truth_spacing(s, truth)
    types = {name.lower(): labels[:, LABELS.index(name)] for name in SUBTYPES}
    scores.per_subject.append(
        {**tags, "subject": s.id, "slices": len(pred), **subject_scores(pred, truth, counts, spacing, types)}
    )
    scores.masks[s.id] = pred


def truth_spacing(s: Subject, truth: np.ndarray) -> tuple[float, float, float] | None:
    """The voxel spacing (mm) of the masks scored against: the loaded spacing, made finer in-plane when the
    truth is the native mask of a downsampled subject; None where the data set gives none."""
    if s.spacing is None:
        return None
    f = truth.shape[1] / s.mask.shape[1]
    return (s.spacing[0], s.spacing[1] / f, s.spacing[2] / f)


def subject_scores(
    pred: np.ndarray,
    truth: np.ndarray,
    counts: Counts,
    spacing: tuple[float, float, float] | None = None,
    slice_types: dict[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """One subject's values from its (S, H, W) prediction and truth, their per-slice counts and, where known,
    the voxel spacing in mm (then NSD's tolerance is in mm and volumes also in mL) and the slices' hemorrhage
    types (then the lesion counts per type too)."""
    scores = count_scores(counts)
    sick = scores["has_hemorrhage"]
    voxel_ml = float(np.prod(spacing)) / 1000.0 if spacing else math.nan
    error_ml = abs(scores["pred_voxels"] - scores["true_voxels"]) * voxel_ml if sick else math.nan
    return {
        **scores,
        "hd95": hd95(pred, truth) if sick else math.nan,
        "nsd": nsd(pred, truth, spacing) if sick else math.nan,
        "volume_error_ml": error_ml,
        **lesion_counts(pred, truth, slice_types),
    }
