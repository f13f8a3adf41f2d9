"""Reader of the CT-ICH v1.3.1 release (NIfTI volumes in Hounsfield units, 512 x 512 slices)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ichbench.data.dataset import LABELS, Subject, window_hu
from ichbench.data.inputs import extra_windows, hu_planes
from ichbench.data.readers import Reader
from ichbench.data.readers.diagnosis import read_diagnosis
from ichbench.data.readers.imageio import NIFTI_SUFFIXES, read_nifti, volume_to_slices
from ichbench.errors import DataError

CSV_NAME = "hemorrhage_diagnosis_raw_ct.csv"
NO_HEMORRHAGE = LABELS.index("No_Hemorrhage")


def find_volume(folder: Path, patient: int) -> Path:
    """ct_scans/NNN.nii or NNN.nii.gz (also without zero padding, as some copies name them)."""
    for stem in (f"{patient:03d}", str(patient)):
        for suffix in NIFTI_SUFFIXES:
            path = folder / f"{stem}{suffix}"
            if path.exists():
                return path
    raise DataError(f"{folder / f'{patient:03d}.nii'}: volume missing for patient {patient} listed in {CSV_NAME}")


def read_ctich_nifti(root: Path, bone: bool = False, subdural: bool = False) -> list[Subject]:
    """All subjects of a v1.3.1 folder: windowed to the brain window (and the bone and subdural windows
    when asked), validated against the CSV."""
    table = read_diagnosis(root / CSV_NAME)
    return [_read_subject(root, patient, rows, extra_windows(bone, subdural)) for patient, rows in table.items()]


def _read_subject(root: Path, patient: int, rows: list, extra: tuple[str, ...]) -> Subject:
    ct_path = find_volume(root / "ct_scans", patient)
    mask_path = find_volume(root / "masks", patient)
    hu, img = read_nifti(ct_path)
    mask_vox, _ = read_nifti(mask_path)
    if mask_vox.shape != hu.shape:
        raise DataError(f"{mask_path}: mask shape {mask_vox.shape} differs from the CT volume {hu.shape}")
    slices = np.array([s for s, _ in rows], np.int64)
    if len(rows) != hu.shape[2] or slices.tolist() != list(range(1, hu.shape[2] + 1)):
        raise DataError(
            f"{ct_path}: {hu.shape[2]} slices, but {CSV_NAME} lists slices {slices.min()}..{slices.max()} "
            f"({len(rows)} rows) for patient {patient}; expected 1..{hu.shape[2]}"
        )
    hu_slices = volume_to_slices(hu)
    mask = (volume_to_slices(mask_vox) > 0).astype(np.uint8)
    labels = np.stack([flags for _, flags in rows])
    _check_labels(mask_path, patient, slices, labels, mask)
    zooms = img.header.get_zooms()[:3]
    return Subject(
        id=f"{patient:03d}",
        image=window_hu(hu_slices),
        mask=mask,
        labels=labels,
        slice_numbers=slices,
        **hu_planes(hu_slices, extra),
        spacing=(float(zooms[2]), float(zooms[1]), float(zooms[0])),
    )


def _check_labels(path: Path, patient: int, slices: np.ndarray, labels: np.ndarray, mask: np.ndarray) -> None:
    present = mask.reshape(len(mask), -1).any(axis=1)
    for k, flags, has in zip(slices, labels, present):
        if flags[NO_HEMORRHAGE] and has:
            raise DataError(
                f"{path}: mask present in slice {k}, but {CSV_NAME} marks patient {patient} slice {k} as No_Hemorrhage"
            )
        if not flags[NO_HEMORRHAGE] and not has:
            raise DataError(
                f"{path}: mask empty in slice {k}, but {CSV_NAME} marks patient {patient} slice {k} as hemorrhage"
            )


def _looks_like(root: Path) -> bool:
    return (root / CSV_NAME).exists() or (root / "ct_scans").is_dir()


READER = Reader(
    "ctich-1.3.1", f"{CSV_NAME} + ct_scans/ + masks/ (CT-ICH 1.3.1)", _looks_like, read_ctich_nifti, priority=20
)
