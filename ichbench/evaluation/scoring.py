"""Score a model on labelled subjects: masks through ichbench.post, then per-slice and per-subject rows."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ichbench.data.dataset import LABELS, SUBTYPES, Subject
from ichbench.data.inputs import subject_input
from ichbench.evaluation.metrics import slice_counts, subject_scores
from ichbench.inference.infer import predict_masks
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
) -> Scores:
    """Predict and score every subject; `tags` (model, fold, ...) are copied into every row."""
    scores = Scores()
    for s in subjects:
        pred = predict_masks(
            model, subject_input(s, protocol.input), protocol, device, threshold, uses_morphology(model)
        )
        add_subject(scores, s, pred, tags)
    return scores


def add_subject(scores: Scores, s: Subject, pred: np.ndarray, tags: dict[str, object]) -> None:
    """Append one subject's rows (and mask) to `scores`."""
    counts = slice_counts(pred, s.mask)
    labels = np.asarray(s.labels)
    for i, k in enumerate(np.asarray(s.slice_numbers)):
        row = {**tags, "subject": s.id, "slice": int(k)}
        row.update({name: int(counts[name][i]) for name in counts})
        row.update({name.lower(): int(labels[i, LABELS.index(name)]) for name in SUBTYPES})
        scores.per_slice.append(row)
    scores.per_subject.append({**tags, "subject": s.id, "slices": len(pred), **subject_scores(pred, s.mask, counts)})
    scores.masks[s.id] = pred
