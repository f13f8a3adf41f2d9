"""The sections of a protocol, one frozen dataclass each (a TOML table each), with their defaults.

`ichbench.protocol` assembles them into a `Protocol`, hashes and parses it; a section's field
comments say what each key means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Augmentation:
    """Ranges of the random affine transform; all zero means no augmentation."""

    rotation: float = 20.0
    shift: float = 0.1
    shear: float = 0.1
    zoom: float = 0.2

    @property
    def enabled(self) -> bool:
        """Does any range differ from zero."""
        return any((self.rotation, self.shift, self.shear, self.zoom))


@dataclass(frozen=True)
class DataSpec:
    """What of the data set a protocol uses."""

    exclude: tuple[str, ...] = ()  # subject ids removed before the folds are made (absent ones are ignored)
    scale: float = 1.0  # in-plane downsampling on load, 1 / n (see ichbench.data.scale)
    # The classes of a data set with voxel classes (nnU-Net raw) that count as hemorrhage, by name or type
    # (e.g. ["intraparenchymal"]); empty: every class but the background. Part of the test.
    classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class InputSpec:
    """What every model sees (see ichbench.data.inputs): display windows and slices of context either side."""

    channels: tuple[str, ...] = ("brain",)
    context: int = 0
    # "scan": each scan's brain window z-scored over its brain (ichbench.data.inputs.normalise_scan), so a
    # scan whose brain reads brighter than the rest is brought in line; "none": the window as it is.
    normalise: str = "none"

    @property
    def count(self) -> int:
        """C, the number of input channels."""
        return len(self.channels) * (2 * self.context + 1)

    def offsets(self) -> list[int]:
        """Slice offsets in channel order: 0, -1, +1, -2, +2, ..."""
        return [0] + [d for k in range(1, self.context + 1) for d in (-k, k)]

    def labels(self) -> list[str]:
        """A name per channel, e.g. 'brain', 'bone', 'brain-1', 'bone+1'."""
        return [f"{c}{'' if d == 0 else f'{d:+d}'}" for d in self.offsets() for c in self.channels]

    def needs(self, window: str) -> bool:
        """Does this input use a display window (and so must the data set hold it)."""
        return window in self.channels


@dataclass(frozen=True)
class PhantomSpec:
    """The built-in phantom used when no data set is given."""

    subjects: int = 20
    slices: int = 24
    size: int = 640
    seed: int = 0


@dataclass(frozen=True)
class CV:
    """Subject-wise cross-validation."""

    folds: int = 5
    seed: int = 0
    val_fraction: float = 0.2
    # Training seeds: each (model, fold) trains once per seed, with [training] seed set to it, so a row can
    # report its seed noise; empty (the default): once, with [training] seed. Part of the recipe.
    seeds: tuple[int, ...] = ()


@dataclass(frozen=True)
class Windows:
    """The window grid."""

    size: int = 160
    stride: int = 80
    # Share of each training batch cut centred on a random hemorrhage pixel instead of from the paper's
    # undersampled grid (nnU-Net oversamples a third of its patches so); batches keep their size.
    foreground: float = 0.0
    # The hemorrhage-free slice each subject contributes: "once" per job (the paper's sampler) or drawn anew
    # every "epoch" (the same windows per epoch and the same compute, far more healthy tissue seen).
    negatives: str = "once"


@dataclass(frozen=True)
class Training:
    """Optimisation of one job."""

    epochs: int = 100
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-5
    loss: str = "bce"
    select: str = "val_jaccard"  # "val_soft_jaccard" (the original code's Keras monitor) or "last" (validation.py)
    seed: int = 0
    schedule: str = "none"  # learning rate per epoch: "none", "poly" (nnU-Net's) or "cosine"
    weight_decay: float = 0.0
    fused: bool = False  # torch's fused Adam(W) kernel: the same update, faster, rounded differently
    # bf16 autocast: "auto" where the device does bf16 fast (CUDA; CPUs with AVX-512 BF16 or AMX), "bf16",
    # "fp32", or "cuda-bf16" (on CUDA only: the behaviour before this key existed, hence the default).
    precision: str = "cuda-bf16"


@dataclass(frozen=True)
class Post:
    """From window probabilities to masks."""

    threshold: float = 0.9
    threshold_search: bool = False
    threshold_grid: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    # What the threshold search maximises on the validation subjects: the paper's per-subject Jaccard over
    # slices with hemorrhage ("paper"), or one Jaccard pooled over all their slices ("pooled"), where false
    # positives on healthy slices count (ichbench.training.validation).
    threshold_objective: str = "paper"
    weighting: str = "mean"
    close: int = 10
    open: int = 5
    flip: bool = False  # test-time augmentation: average each window's prediction with its left-right mirror
    # The lesion stage after closing and opening (post.filter_lesions), in native voxels: components smaller
    # than lesion_min_area, or whose largest (mean) probability is below lesion_min_max_prob
    # (lesion_min_mean_prob), are dropped, then all but the lesion_keep_largest largest (0: all). Components
    # join across slices (26-connected) unless lesion_across is false (8-connected per slice). At these
    # defaults the stage keeps every component.
    lesion_min_area: int = 0
    lesion_min_max_prob: float = 0.0
    lesion_min_mean_prob: float = 0.0
    lesion_keep_largest: int = 0
    lesion_across: bool = True
    # The lesion stage decided on validation, as nnU-Net decides its post-processing: with lesion_search,
    # each fold tries every (minimum area, minimum largest probability) of the two grids (and 0, no filter)
    # on its validation subjects at its threshold, and keeps the one with the highest lesion F1 whose paper
    # Dice is at most lesion_dice_tolerance below the unfiltered one (ties: the smaller filter). The choice
    # replaces lesion_min_area and lesion_min_max_prob for the fold's test and is recorded per fold.
    lesion_search: bool = False
    lesion_area_grid: tuple[int, ...] = ()
    lesion_prob_grid: tuple[float, ...] = ()
    lesion_dice_tolerance: float = 0.01
    # The brain mask before the components (post.brain_mask): with brain_mask, predicted pixels outside the
    # largest region of brain-window intensity in [brain_low, brain_high] (holes filled, eroded by
    # brain_erode native pixels) are dropped. 43 is 0 HU in the brain window, 254 excludes the saturated
    # skull (100 HU and above).
    brain_mask: bool = False
    brain_low: int = 43
    brain_high: int = 254
    brain_erode: int = 0

    @property
    def lesions(self) -> bool:
        """Whether the lesion stage can drop anything."""
        filters = (self.lesion_min_area, self.lesion_min_max_prob, self.lesion_min_mean_prob, self.lesion_keep_largest)
        return self.brain_mask or any(filters)


@dataclass(frozen=True)
class Metrics:
    """Scoring options."""

    detection_pixels: int = 400
    # "native": masks are made and scored at the data set's own slice size, whatever [data] scale the
    # recipe trains at (probabilities upsampled, then thresholded and post-processed there; kernel sizes
    # and detection_pixels in native pixels). "scaled": at the training scale, against downsampled masks
    # (protocols written before this key; the neutral value that keeps their hashes).
    resolution: str = "scaled"

    @property
    def native(self) -> bool:
        """Whether masks are made and scored at the data set's native resolution."""
        return self.resolution == "native"


SECTIONS = {
    "data": DataSpec,
    "input": InputSpec,
    "phantom": PhantomSpec,
    "cv": CV,
    "windows": Windows,
    "augmentation": Augmentation,
    "training": Training,
    "post": Post,
    "metrics": Metrics,
}


# Keys added after protocols were first hashed, with the value that reproduces the old behaviour: at
# that value they stay out of the hash, so every earlier protocol (and its leaderboard table) keeps it.
# A section all of whose keys are at those values leaves the hash altogether.
ADDED_LATER_KEYS = (
    ("training", "schedule"),
    ("training", "weight_decay"),
    ("training", "fused"),
    ("training", "precision"),
    ("input", "channels"),
    ("input", "context"),
    ("input", "normalise"),
    ("metrics", "resolution"),
    ("post", "flip"),
    ("post", "threshold_objective"),
    ("post", "lesion_min_area"),
    ("post", "lesion_min_max_prob"),
    ("post", "lesion_min_mean_prob"),
    ("post", "lesion_keep_largest"),
    ("post", "lesion_across"),
    ("post", "lesion_search"),
    ("post", "lesion_area_grid"),
    ("post", "lesion_prob_grid"),
    ("post", "lesion_dice_tolerance"),
    ("post", "brain_mask"),
    ("post", "brain_low"),
    ("post", "brain_high"),
    ("post", "brain_erode"),
    ("cv", "seeds"),
    ("windows", "foreground"),
    ("windows", "negatives"),
    ("data", "classes"),
)
# Each with its neutral value, the section's default (protocol_sections, where every default is written once).
ADDED_LATER: dict[tuple[str, str], Any] = {
    (section, key): getattr(SECTIONS[section](), key) for section, key in ADDED_LATER_KEYS
}
