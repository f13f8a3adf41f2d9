"""The built-in synthetic head-CT phantom, in Hounsfield units.

Skull, scalp, grey/white matter with noise, sulci and ventricles (CSF), calcifications, and
hemorrhages of the five subtypes at their typical places (epidural lens against the skull,
subdural crescent, intraparenchymal blob, intraventricular in the ventricles, subarachnoid along
sulci), 50 to 90 HU with soft partial-volume edges, spanning a few consecutive slices. The blurred
bone edges, scalp and calcifications fall in the same HU band as blood, so an intensity threshold
does poorly while a model that sees shape and place does better.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from ichbench.data.dataset import LABELS, SUBTYPES

NEGATIVE_FRACTION = 0.4
VERSION = 2  # bump whenever the generator's output changes: cached phantoms are keyed by it


@dataclass
class Volume:
    """One phantom subject: HU slices, mask, labels and voxel spacing (slice, row, col) in mm."""

    hu: np.ndarray  # (S, H, W) float32
    mask: np.ndarray  # (S, H, W) uint8
    labels: np.ndarray  # (S, len(LABELS)) uint8
    spacing: tuple[float, float, float]
    # (S, H, W) uint8: 1 + the SUBTYPES index of the lesion at each voxel (0: none; where lesions overlap,
    # the later one): what a data set with voxel classes holds (nnU-Net raw layout, data.phantom.write).
    classes: np.ndarray | None = None


@dataclass
class Head:
    """Per-subject anatomy parameters; lengths are fractions of half the image size."""

    a: float
    b: float
    angle: float
    cx: float
    cy: float
    skull: float
    phase: float
    sulci: int


def make_volume(rng: np.random.Generator, slices: int, size: int, hemorrhage: bool) -> Volume:
    """One subject; about 1 to 2 lesions when `hemorrhage`, none otherwise."""
    head = Head(
        a=rng.uniform(0.72, 0.80),
        b=rng.uniform(0.84, 0.92),
        angle=rng.uniform(-0.12, 0.12),
        cx=rng.uniform(-0.03, 0.03),
        cy=rng.uniform(-0.03, 0.03),
        skull=rng.uniform(0.05, 0.07),
        phase=rng.uniform(0, 2 * np.pi),
        sulci=int(rng.integers(14, 22)),
    )
    anatomy = []
    for z in range(slices):
        geo = _geometry(head, z / max(slices - 1, 1), size)
        anatomy.append((geo, _anatomy(rng, geo, head)))
    for _ in range(10):  # a plan whose lesions all vanish (tiny images) is drawn again
        images, mask, labels, classes = _add_lesions(rng, anatomy, _plan_lesions(rng, slices) if hemorrhage else [])
        if mask.any() or not hemorrhage:
            break
    hu = np.empty((slices, size, size), np.float32)
    for z, image in enumerate(images):
        noise = rng.normal(0, 6.0, image.shape) + gaussian_filter(rng.normal(0, 6.0, image.shape), 2.0)
        hu[z] = (gaussian_filter(image, 0.8) + noise).astype(np.float32)
    labels[:, LABELS.index("No_Hemorrhage")] = (mask.reshape(slices, -1).max(axis=1) == 0).astype(np.uint8)
    spacing = (5.0, 0.45 * 512 / size, 0.45 * 512 / size)
    return Volume(hu=hu, mask=mask, labels=labels, spacing=spacing, classes=classes)


def _add_lesions(
    rng: np.random.Generator, anatomy: list, lesions: list
) -> tuple[list, np.ndarray, np.ndarray, np.ndarray]:
    """Blend the planned lesions into copies of the anatomy; returns images, mask, labels and classes."""
    slices, size = len(anatomy), anatomy[0][1].shape[0]
    mask = np.zeros((slices, size, size), np.uint8)
    classes = np.zeros((slices, size, size), np.uint8)
    labels = np.zeros((slices, len(LABELS)), np.uint8)
    images = []
    for z, (geo, base) in enumerate(anatomy):
        image = base.copy()
        for kind, center, half, params in lesions:
            extent = 1.0 - ((z - center) / (half + 1.0)) ** 2
            if extent <= 0:
                continue
            soft = _lesion_shape(kind, geo, params, np.sqrt(extent))
            if soft is None or (soft > 0.5).sum() < 4:
                continue
            blood = params["hu"] + rng.normal(0, 3.0, image.shape)
            image = image * (1 - soft) + blood * soft
            mask[z] |= (soft > 0.5).astype(np.uint8)
            classes[z][soft > 0.5] = SUBTYPES.index(kind) + 1
            labels[z, SUBTYPES.index(kind)] = 1
        images.append(image)
    return images, mask, labels, classes


def _plan_lesions(rng: np.random.Generator, slices: int) -> list[tuple[str, float, float, dict]]:
    plan = []
    for _ in range(int(rng.integers(1, 3))):
        kind = SUBTYPES[int(rng.integers(len(SUBTYPES)))]
        center = rng.uniform(0.3, 0.7) * (slices - 1)
        half = float(rng.integers(1, 4))
        params = {
            "hu": rng.uniform(58, 82),
            "theta": rng.uniform(0, 2 * np.pi),
            "width": rng.uniform(0.25, 0.5),
            "depth": rng.uniform(0.06, 0.13),
            "x": rng.uniform(-0.35, 0.35),
            "y": rng.uniform(-0.4, 0.4),
            "radius": rng.uniform(0.06, 0.16),
            "seed": int(rng.integers(1 << 30)),
        }
        if kind == "Intraventricular":
            center = rng.uniform(0.42, 0.62) * (slices - 1)  # where the ventricles are
        plan.append((kind, center, half, params))
    return plan


def _geometry(head: Head, zf: float, size: int) -> dict[str, np.ndarray]:
    """Coordinates and the nested head regions of one slice at relative height zf."""
    scale = float(np.sqrt(max(1.0 - ((zf - 0.45) / 0.8) ** 2, 0.05)))
    lin = (np.arange(size) + 0.5) / size * 2 - 1
    y, x = np.meshgrid(lin, lin, indexing="ij")
    x, y = x - head.cx, y - head.cy
    c, s = np.cos(head.angle), np.sin(head.angle)
    xr, yr = c * x + s * y, -s * x + c * y
    r = np.sqrt((xr / (head.a * scale)) ** 2 + (yr / (head.b * scale)) ** 2)
    inner = 1.0 - head.skull / scale - 0.035  # inner skull table, in units of r
    return {
        "x": xr,
        "y": yr,
        "r": r,
        "theta": np.arctan2(yr, xr),
        "inner": np.full_like(r, inner),
        "scale": np.full_like(r, scale),
        "zf": np.full_like(r, zf),
        "px": np.full_like(r, 2.0 / size),
        "sulcal": np.cos(head.sulci * np.arctan2(yr, xr) + head.phase),
    }


def _anatomy(rng: np.random.Generator, g: dict[str, np.ndarray], head: Head) -> np.ndarray:
    r, theta, inner = g["r"], g["theta"], float(g["inner"].flat[0])
    image = np.full(r.shape, -1000.0, np.float32)
    image[r < 1.0] = rng.uniform(35, 55)  # scalp and muscle sit inside the blood band too
    image[r < 1.0 - 0.035] = rng.uniform(900, 1400)  # skull
    brain = r < inner
    wobble = 0.06 * np.sin(5 * theta + head.phase) + 0.04 * np.sin(9 * theta - head.phase)
    white = r < inner * (0.72 + wobble)
    image[brain] = 40.0  # grey matter
    image[white] = 27.0  # white matter
    sulci = brain & (r > inner * 0.8) & (g["sulcal"] > 0.94)
    image[sulci] = 8.0
    ventricles = _ventricles(g)
    image[ventricles] = 5.0
    _mimics(rng, image, g, brain)
    _calcify(rng, image, g, ventricles)
    return image


def _mimics(rng: np.random.Generator, image: np.ndarray, g: dict[str, np.ndarray], brain: np.ndarray) -> None:
    """Hyperdense structures that are not blood: the falx and the superior sagittal sinus."""
    x, y, r, px = g["x"], g["y"], g["r"], float(g["px"].flat[0])
    inner = float(g["inner"].flat[0])
    falx = brain & (np.abs(x) < max(0.008, 1.2 * px)) & (np.abs(y) > 0.25 * g["scale"])
    image[falx] = rng.uniform(55, 80)
    sinus = brain & (r > inner - 0.07) & (np.abs(x) < 0.05 * (r - inner + 0.07) / 0.07 + px) & (y > 0)
    image[sinus] = rng.uniform(55, 70)


def _ventricles(g: dict[str, np.ndarray]) -> np.ndarray:
    zf, scale = float(g["zf"].flat[0]), float(g["scale"].flat[0])
    if not 0.35 < zf < 0.72:
        return np.zeros(g["r"].shape, bool)
    x, y = g["x"] / scale, g["y"] / scale
    left = ((x + 0.1) / 0.07) ** 2 + ((y + 0.02) / 0.3) ** 2 < 1
    right = ((x - 0.1) / 0.07) ** 2 + ((y + 0.02) / 0.3) ** 2 < 1
    return left | right


def _calcify(rng: np.random.Generator, image: np.ndarray, g: dict[str, np.ndarray], ventricles: np.ndarray) -> None:
    """Pineal and choroid-plexus calcifications: small, bright, blurred into the blood band."""
    x, y, px = g["x"], g["y"], float(g["px"].flat[0])
    spots = [(0.0, 0.28)] + ([(0.1, 0.12), (-0.1, 0.12)] if ventricles.any() else [])
    for sx, sy in spots:
        if rng.random() < 0.7:
            radius = max(rng.uniform(0.012, 0.025), 1.5 * px)
            image[(x - sx) ** 2 + (y - sy) ** 2 < radius**2] = rng.uniform(120, 300)


def _lesion_shape(kind: str, g: dict[str, np.ndarray], p: dict, extent: float) -> np.ndarray | None:
    """Soft [0, 1] occupancy of one lesion in one slice (blurred for partial-volume edges)."""
    r, theta, inner = g["r"], g["theta"], float(g["inner"].flat[0])
    dtheta = np.angle(np.exp(1j * (theta - p["theta"])))
    if kind in ("Epidural", "Subdural"):
        half_width = p["width"] * (1.0 if kind == "Epidural" else 2.4) * extent
        profile = np.clip(1 - (dtheta / half_width) ** 2, 0, None)
        # Epidural: biconvex lens; subdural: thin crescent of nearly even thickness.
        thickest = max(p["depth"] * (1.0 if kind == "Epidural" else 0.35), 3 * float(g["px"].flat[0]))
        depth = thickest * extent * (np.sqrt(profile) if kind == "Epidural" else profile**0.25)
        shape = (r < inner) & (r > inner - depth)
    elif kind == "Intraparenchymal":
        rng = np.random.default_rng(p["seed"])
        bumps = 1 + 0.18 * np.sin(3 * theta + rng.uniform(0, 6)) + 0.1 * np.sin(5 * theta + rng.uniform(0, 6))
        d = np.hypot(g["x"] - p["x"] * g["scale"] * 0.7, g["y"] - p["y"] * g["scale"] * 0.7)
        radius = max(p["radius"], 3 * float(g["px"].flat[0]))  # at least a few pixels on small images
        shape = (d < radius * extent * bumps) & (r < inner * 0.9)
    elif kind == "Intraventricular":
        ventricles = _ventricles(g)
        shape = ventricles & (g["y"] > g["scale"] * (0.2 - 0.3 * extent))
    else:  # Subarachnoid: blood in the sulci of one sector
        sector = np.abs(dtheta) < p["width"] * 1.5 * extent
        shape = (r < inner) & (r > inner * 0.8) & sector & (g["sulcal"] > 0.88)
    if not shape.any():
        return None
    return np.clip(gaussian_filter(shape.astype(np.float32), 1.0) * 1.15, 0, 1)
