"""Write the phantom in exactly the layouts of the real releases, so the same readers load it."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np

from ichbench.data.dataset import BONE_WINDOW, SUBTYPES, window_hu
from ichbench.data.phantom import PHANTOM_LAYOUTS
from ichbench.data.phantom.volume import NEGATIVE_FRACTION, VERSION, Volume, make_volume
from ichbench.data.readers import ctich_jpg, ctich_nifti
from ichbench.data.readers.diagnosis import write_diagnosis
from ichbench.data.readers.imageio import slices_to_volume, write_gray
from ichbench.errors import DataError

# The phantom's classes in nnU-Net raw layout: background, then the five types in SUBTYPES order.
NNUNET_LABELS = {"background": 0, **{name.lower(): i + 1 for i, name in enumerate(SUBTYPES)}}


def generate(subjects: int, slices: int, size: int, seed: int) -> list[Volume]:
    """Deterministic volumes: subject i depends only on (seed, i)."""
    if subjects < 1 or slices < 1 or size < 32:
        raise DataError(f"phantom needs subjects >= 1, slices >= 1, size >= 32; got {subjects}, {slices}, {size}")
    order = np.random.default_rng(seed).permutation(subjects)
    negatives = set(order[: int(round(NEGATIVE_FRACTION * subjects))].tolist()) if subjects > 1 else set()
    return [
        make_volume(np.random.default_rng([seed, i]), slices, size, hemorrhage=i not in negatives)
        for i in range(subjects)
    ]


def write_phantom(out: Path, subjects: int, slices: int, size: int, seed: int, layout: str = "jpg") -> Path:
    """Generate and write a phantom data set to `out` (atomically: a temporary folder, then a rename)."""
    if layout not in PHANTOM_LAYOUTS:
        raise DataError(f"phantom layout must be one of {PHANTOM_LAYOUTS}, got {layout!r}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise DataError(f"{out}: output folder exists and is not empty")
    volumes = generate(subjects, slices, size, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        WRITERS[layout](tmp, volumes)
        params = {
            "subjects": subjects,
            "slices": slices,
            "size": size,
            "seed": seed,
            "layout": layout,
            "generator_version": VERSION,
        }
        (tmp / "phantom.json").write_text(json.dumps(params, indent=2) + "\n")
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _write_jpg(root: Path, volumes: list[Volume]) -> None:
    rows = []
    pad = ctich_jpg.CROP
    for i, vol in enumerate(volumes, start=1):
        folder = ctich_jpg.patient_dir(root, i)
        (folder / "brain").mkdir(parents=True)
        (folder / "bone").mkdir()
        for k, (hu, mask, flags) in enumerate(zip(vol.hu, vol.mask, vol.labels), start=1):
            # The release's slices carry a black 5-pixel border that the reader crops.
            write_gray(folder / "brain" / f"{k}.jpg", np.pad(window_hu(hu), pad))
            write_gray(folder / "bone" / f"{k}.jpg", np.pad(window_hu(hu, *BONE_WINDOW), pad))
            if mask.any():
                write_gray(folder / "brain" / f"{k}_HGE_Seg.jpg", np.pad(mask * 255, pad))
            rows.append((i, k, flags))
    write_diagnosis(root / ctich_jpg.CSV_NAME, rows)


def _write_nifti(root: Path, volumes: list[Volume]) -> None:
    rows = []
    (root / "ct_scans").mkdir()
    (root / "masks").mkdir()
    for i, vol in enumerate(volumes, start=1):
        dz, dy, dx = vol.spacing
        affine = np.diag([dx, dy, dz, 1.0])
        ct = nib.Nifti1Image(slices_to_volume(np.rint(vol.hu).astype(np.int16)), affine)
        ct.header.set_zooms((dx, dy, dz))
        ct.header.set_xyzt_units("mm")
        nib.save(ct, str(root / "ct_scans" / f"{i:03d}.nii"))
        mask = nib.Nifti1Image(slices_to_volume(vol.mask), affine)
        nib.save(mask, str(root / "masks" / f"{i:03d}.nii"))
        rows += [(i, k, flags) for k, flags in enumerate(vol.labels, start=1)]
    write_diagnosis(root / ctich_nifti.CSV_NAME, rows)


def _write_nnunet(root: Path, volumes: list[Volume], volume: bool) -> None:
    """nnU-Net raw layout: 3-D NIfTI in HU with voxel classes, or 2-D PNG slices (brain window) named
    SUBJECT_SLICE, with their class maps."""
    (root / "imagesTr").mkdir()
    (root / "labelsTr").mkdir()
    ending = ".nii.gz" if volume else ".png"
    cases = 0
    for i, vol in enumerate(volumes, start=1):
        if volume:
            dz, dy, dx = vol.spacing
            affine = np.diag([dx, dy, dz, 1.0])
            for path, data in (
                (f"imagesTr/{i:03d}_0000", np.rint(vol.hu).astype(np.int16)),
                (f"labelsTr/{i:03d}", vol.classes),
            ):
                image = nib.Nifti1Image(slices_to_volume(data), affine)
                image.header.set_xyzt_units("mm")
                nib.save(image, str(root / f"{path}{ending}"))
            cases += 1
            continue
        for k, (hu, classes) in enumerate(zip(vol.hu, vol.classes), start=1):
            write_gray(root / "imagesTr" / f"{i:03d}_{k:02d}_0000.png", window_hu(hu))
            write_gray(root / "labelsTr" / f"{i:03d}_{k:02d}.png", classes)
            cases += 1
    doc = {"channel_names": {"0": "CT"}, "labels": NNUNET_LABELS, "numTraining": cases, "file_ending": ending}
    (root / "dataset.json").write_text(json.dumps(doc, indent=2) + "\n")


WRITERS = {
    "jpg": _write_jpg,
    "nifti": _write_nifti,
    "nnunet-3d": lambda root, volumes: _write_nnunet(root, volumes, volume=True),
    "nnunet-2d": lambda root, volumes: _write_nnunet(root, volumes, volume=False),
}
