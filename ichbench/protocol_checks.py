"""The allowed values of a protocol's settings, and the check a parsed protocol must pass."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ichbench.errors import ProtocolError

if TYPE_CHECKING:
    from ichbench.protocol import Protocol

SELECT = ("val_soft_jaccard", "val_jaccard", "last")
LOSSES = ("bce", "jaccard", "dice_bce")
OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("none", "poly", "cosine")
PRECISIONS = ("auto", "bf16", "fp32", "cuda-bf16")
RESOLUTIONS = ("native", "scaled")
NEGATIVES = ("once", "epoch")
NORMALISE = ("none", "scan")
OBJECTIVES = ("paper", "pooled")
CHANNELS = ("brain", "bone", "subdural")  # the display windows ichbench.data.inputs computes


def validate(source: str, p: Protocol) -> None:
    """Raise ProtocolError naming the first value out of range or not among the allowed names."""
    checks = [
        (p.cv.folds >= 2, f"[cv] folds must be >= 2, got {p.cv.folds}"),
        (0 <= p.cv.val_fraction < 1, f"[cv] val_fraction must be in [0, 1), got {p.cv.val_fraction}"),
        (
            len(set(p.cv.seeds)) == len(p.cv.seeds) and all(s >= 0 for s in p.cv.seeds),
            f"[cv] seeds must be distinct integers >= 0, got {list(p.cv.seeds)}",
        ),
        (0 < p.windows.stride <= p.windows.size, f"[windows] need 0 < stride <= size, got {p.windows}"),
        (0 <= p.windows.foreground <= 1, f"[windows] foreground must be in [0, 1], got {p.windows.foreground}"),
        (
            p.input.normalise in NORMALISE,
            f"[input] normalise must be one of {', '.join(NORMALISE)}, got {p.input.normalise!r}",
        ),
        (
            p.input.normalise == "none" or not p.post.brain_mask,
            "[post] brain_mask reads the brain window of channel 0, which [input] normalise = 'scan' changes: "
            "use one of them",
        ),
        (
            p.post.threshold_objective in OBJECTIVES,
            f"[post] threshold_objective must be one of {', '.join(OBJECTIVES)}, got {p.post.threshold_objective!r}",
        ),
        (
            p.windows.negatives in NEGATIVES,
            f"[windows] negatives must be one of {', '.join(NEGATIVES)}, got {p.windows.negatives!r}",
        ),
        (p.training.epochs >= 1 and p.training.batch_size >= 1, "[training] epochs and batch_size must be >= 1"),
        (p.training.lr > 0, f"[training] lr must be > 0, got {p.training.lr}"),
        (p.training.loss in LOSSES, f"[training] loss must be one of {', '.join(LOSSES)}, got {p.training.loss!r}"),
        (
            p.training.optimizer in OPTIMIZERS,
            f"[training] optimizer must be one of {', '.join(OPTIMIZERS)}, got {p.training.optimizer!r}",
        ),
        (
            p.training.schedule in SCHEDULES,
            f"[training] schedule must be one of {', '.join(SCHEDULES)}, got {p.training.schedule!r}",
        ),
        (
            p.training.precision in PRECISIONS,
            f"[training] precision must be one of {', '.join(PRECISIONS)}, got {p.training.precision!r}",
        ),
        (p.training.weight_decay >= 0, f"[training] weight_decay must be >= 0, got {p.training.weight_decay}"),
        (
            p.training.select in SELECT,
            f"[training] select must be one of {', '.join(SELECT)}, got {p.training.select!r}",
        ),
        (
            p.metrics.resolution in RESOLUTIONS,
            f"[metrics] resolution must be one of {', '.join(RESOLUTIONS)}, got {p.metrics.resolution!r}",
        ),
        (0 < p.post.threshold < 1, f"[post] threshold must be in (0, 1), got {p.post.threshold}"),
        (
            p.post.weighting in ("mean", "gaussian"),
            f"[post] weighting must be mean or gaussian, got {p.post.weighting!r}",
        ),
        (p.post.close >= 0 and p.post.open >= 0, "[post] close and open must be >= 0"),
        (
            p.post.lesion_min_area >= 0 and p.post.lesion_keep_largest >= 0,
            "[post] lesion_min_area and lesion_keep_largest must be >= 0",
        ),
        (
            0 <= p.post.lesion_min_max_prob <= 1 and 0 <= p.post.lesion_min_mean_prob <= 1,
            "[post] lesion_min_max_prob and lesion_min_mean_prob must be in [0, 1]",
        ),
        (
            all(a >= 0 for a in p.post.lesion_area_grid) and all(0 <= q <= 1 for q in p.post.lesion_prob_grid),
            "[post] lesion_area_grid must hold areas >= 0 and lesion_prob_grid probabilities in [0, 1]",
        ),
        (
            not p.post.lesion_search or bool(p.post.lesion_area_grid or p.post.lesion_prob_grid),
            "[post] lesion_search needs a lesion_area_grid or a lesion_prob_grid to search",
        ),
        (0 <= p.post.lesion_dice_tolerance <= 1, "[post] lesion_dice_tolerance must be in [0, 1]"),
        (
            0 <= p.post.brain_low <= p.post.brain_high <= 255 and p.post.brain_erode >= 0,
            "[post] brain_low and brain_high must satisfy 0 <= brain_low <= brain_high <= 255, brain_erode >= 0",
        ),
        (
            p.phantom.size * p.data.scale >= p.windows.size,
            f"[phantom] size {p.phantom.size} at [data] scale {p.data.scale} is smaller than the window",
        ),
        (
            p.data.scale > 0 and abs(round(1 / p.data.scale) * p.data.scale - 1) < 1e-9,
            f"[data] scale must be 1 / n for a whole number n (1, 0.5, 0.25, ...), got {p.data.scale}",
        ),
    ]
    checks += _input_checks(p)
    for ok, message in checks:
        if not ok:
            raise ProtocolError(f"{source}: {message}")


def _input_checks(p: Protocol) -> list[tuple[bool, str]]:
    channels, known = p.input.channels, ", ".join(CHANNELS)
    return [
        (
            bool(channels) and channels[0] == "brain",
            f"[input] channels must start with 'brain' (channel 0 is the slice's brain window), got {list(channels)}",
        ),
        (set(channels) <= set(CHANNELS), f"[input] channels must be among {known}, got {list(channels)}"),
        (len(set(channels)) == len(channels), f"[input] channels must not repeat, got {list(channels)}"),
        (0 <= p.input.context <= 8, f"[input] context must be 0 to 8 slices either side, got {p.input.context}"),
    ]
