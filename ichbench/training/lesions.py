"""The lesion stage decided on validation, as nnU-Net decides its post-processing on cross-validation.

Each fold scores its validation subjects once per point of the protocol's lesion grid (`[post]
lesion_area_grid` x `lesion_prob_grid`, with 0, no filter, on both axes) at its own threshold, and keeps the
point with the highest lesion F1 whose paper Dice is at most `lesion_dice_tolerance` below the unfiltered
point's: fewer false lesions, at a bounded cost in pixels. Ties keep the smaller filter. The choice is the
fold's `lesion_min_area` and `lesion_min_max_prob` on its test subjects, and its result records it with the
whole curve.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

import pandas as pd
import torch

from ichbench import post
from ichbench.data.dataset import Subject
from ichbench.data.inputs import subject_input
from ichbench.evaluation.cohort import lesion_f1
from ichbench.evaluation.metrics import count_scores, slice_counts
from ichbench.evaluation.surface import lesion_counts
from ichbench.inference.infer import kernels, stitched_maps, window_probs, within_brain
from ichbench.models.contract import uses_morphology
from ichbench.protocol import Protocol


@dataclass(frozen=True)
class LesionChoice:
    """A fold's chosen filter, whether it lies on the grid's largest area or probability, and the curve."""

    min_area: int
    min_max_prob: float
    at_edge: bool
    curve: list[dict]  # per grid point: min_area, min_max_prob, dice (paper, mean), lesion_f1

    def record(self) -> dict:
        """What the job result keeps."""
        return {
            "min_area": self.min_area,
            "min_max_prob": self.min_max_prob,
            "at_edge": self.at_edge,
            "curve": self.curve,
        }

    def applied(self, protocol: Protocol) -> Protocol:
        """The protocol a fold's test is scored under: its lesion stage set to the choice."""
        chosen = replace(protocol.post, lesion_min_area=self.min_area, lesion_min_max_prob=self.min_max_prob)
        return replace(protocol, post=chosen)


def grid(protocol: Protocol) -> list[tuple[int, float]]:
    """Every (minimum area, minimum largest probability) the search tries, the unfiltered (0, 0) first."""
    areas = sorted({0, *(int(a) for a in protocol.post.lesion_area_grid)})
    probs = sorted({0.0, *(float(p) for p in protocol.post.lesion_prob_grid)})
    return list(itertools.product(areas, probs))


def search_lesions(
    model, val: list[Subject], protocol: Protocol, device: torch.device, precision: str, threshold: float
) -> LesionChoice:
    """Score every grid point on the validation subjects and choose (see the module docstring)."""
    points = grid(protocol)
    rows: dict[tuple[int, float], list[dict]] = {p: [] for p in points}
    close, open_ = kernels(protocol, uses_morphology(model))
    for s in val:
        truth = s.truth(protocol.metrics.native)
        image = subject_input(s, protocol.input)
        probs, corners = window_probs(model, image, protocol, device, precision)
        maps = stitched_maps(probs, corners, s.mask.shape[1:], truth.shape[1:], protocol)
        mask = within_brain(post.binarize(maps, threshold, close, open_), image, protocol)
        for area, prob in points:
            kept = post.filter_lesions(mask, maps, area, prob, across=protocol.post.lesion_across)
            rows[(area, prob)].append({**count_scores(slice_counts(kept, truth)), **lesion_counts(kept, truth)})
    curve = [_point(area, prob, pd.DataFrame(rows[(area, prob)])) for area, prob in points]
    return choose(curve, protocol)


def _point(area: int, prob: float, rows: pd.DataFrame) -> dict:
    sick = rows[rows["has_hemorrhage"].astype(bool)] if len(rows) else rows
    dice = float(sick["dice_paper"].mean()) if len(sick) else math.nan
    return {
        "min_area": area,
        "min_max_prob": prob,
        "dice": dice,
        "lesion_f1": lesion_f1(rows) if len(rows) else math.nan,
    }


def choose(curve: list[dict], protocol: Protocol) -> LesionChoice:
    """The point with the highest lesion F1 among those within the Dice tolerance of the unfiltered point
    (the first of the curve); ties keep the smaller filter; no eligible point with an F1: no filter."""
    base = curve[0]["dice"]
    floor = base - protocol.post.lesion_dice_tolerance if not math.isnan(base) else -math.inf
    eligible = [c for c in curve if not math.isnan(c["lesion_f1"]) and not (c["dice"] < floor)]
    best = max(eligible, key=lambda c: (c["lesion_f1"], -c["min_area"], -c["min_max_prob"]), default=curve[0])
    areas = [c["min_area"] for c in curve]
    probs = [c["min_max_prob"] for c in curve]
    edge = (best["min_area"] > 0 and best["min_area"] == max(areas)) or (
        best["min_max_prob"] > 0 and best["min_max_prob"] == max(probs)
    )
    return LesionChoice(int(best["min_area"]), float(best["min_max_prob"]), bool(edge), curve)
