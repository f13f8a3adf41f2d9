"""What a model sees: display windows of the slice (brain, bone, subdural) and of its neighbours (2.5-D).

A protocol's `[input]` names the windows (`channels`, brain first) and `context = k`, the k slices
above and below. A model input is (S, C, H, W) uint8 with C = len(channels) * (2k + 1), ordered by
slice offset 0, -1, +1, -2, +2, ... and, within an offset, by `channels`. So channel 0 is always the
brain window of the slice itself (the threshold baselines and the overlays read it), and the first
len(channels) channels are the slice's own windows. At the first and last slices the missing
neighbours repeat the edge slice. With `normalise = "scan"` the brain window is z-scored per scan
(normalise_scan) before it is cut into channels, for training and prediction alike.
"""

from __future__ import annotations

import numpy as np

from ichbench.data.dataset import BONE_WINDOW, BRAIN_WINDOW, Subject, window_hu
from ichbench.errors import DataError
from ichbench.post import brain_mask
from ichbench.protocol import InputSpec

# (level, width) in HU of each window a channel may name.
WINDOWS = {"brain": BRAIN_WINDOW, "bone": BONE_WINDOW, "subdural": (80.0, 200.0)}
EXTRA = ("bone", "subdural")  # the windows a Subject holds only when they were asked for on load
# Where normalise_scan puts every scan's brain: mean and standard deviation in uint8 grey levels. CT-ICH's
# brains (at the default brain mask, hemorrhage included) sit at a median mean of about 150 and SD of 66.
NORMAL_MEAN, NORMAL_SD = 128.0, 64.0


def extra_windows(bone: bool = False, subdural: bool = False) -> tuple[str, ...]:
    """The names of the extra windows asked for, in EXTRA's order."""
    wanted = {"bone": bone, "subdural": subdural}
    return tuple(name for name in EXTRA if wanted[name])


def assemble(
    planes: dict[str, np.ndarray | None], spec: InputSpec, source: str, slices: np.ndarray | None = None
) -> np.ndarray:
    """(S, C, H, W) uint8 from one (S, H, W) stack per window name, for every slice or the given ones;
    a missing window is a DataError."""
    for name in spec.channels:
        if planes.get(name) is None:
            raise DataError(f"{source}: the input asks for the {name!r} window, which this data does not hold")
    if spec.normalise == "scan":
        planes = {**planes, "brain": normalise_scan(np.asarray(planes["brain"]))}
    n = len(planes[spec.channels[0]])
    z = np.arange(n) if slices is None else np.asarray(slices)
    if spec.count == 1 and slices is None:
        return np.asarray(planes[spec.channels[0]])[:, None]  # a view: nothing copied
    index = [np.clip(z + d, 0, n - 1) for d in spec.offsets()]
    return np.stack([np.asarray(planes[c])[i] for i in index for c in spec.channels], axis=1)


def normalise_scan(image: np.ndarray) -> np.ndarray:
    """An (S, H, W) uint8 brain-window scan z-scored over its brain (post.brain_mask at its defaults, all
    slices together) and mapped to NORMAL_MEAN +- NORMAL_SD grey levels, uint8; a scan without a brain
    region is z-scored over all its pixels."""
    brain = np.ascontiguousarray(image, np.uint8)
    inside = brain[brain_mask(brain).astype(bool)] if brain.size else brain.ravel()
    values = inside if inside.size > 1 else brain.ravel()
    mean, sd = (float(values.mean()), float(values.std())) if values.size else (0.0, 0.0)
    scaled = (brain.astype(np.float32) - mean) * np.float32(NORMAL_SD / max(sd, 1.0)) + np.float32(NORMAL_MEAN)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def subject_input(subject: Subject, spec: InputSpec, slices: np.ndarray | None = None) -> np.ndarray:
    """A subject's model input, (S, C, H, W) uint8 (or only the given slices')."""
    planes = {"brain": subject.image, "bone": subject.bone, "subdural": subject.subdural}
    return assemble(planes, spec, f"subject {subject.id}", slices)


def hu_planes(hu: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Each named display window of (S, H, W) Hounsfield units, as uint8 stacks."""
    return {name: window_hu(hu, *WINDOWS[name]) for name in names}
