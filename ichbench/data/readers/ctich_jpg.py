"""Reader of the CT-ICH v1.0.0 release (JPG slices, 650 x 650, cropped 5 px per side to 640 x 640)."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ichbench.data.dataset import LABELS, Subject
from ichbench.data.readers import Reader
from ichbench.data.readers.diagnosis import read_diagnosis
from ichbench.data.readers.imageio import read_gray
from ichbench.errors import DataError

CSV_NAME = "hemorrhage_diagnosis.csv"
CROP = 5  # the paper removes a 5-pixel black border on every side
NO_HEMORRHAGE = LABELS.index("No_Hemorrhage")


def patient_dir(root: Path, patient: int) -> Path:
    """Patients_CT/NNN for a patient number."""
    return root / "Patients_CT" / f"{patient:03d}"


def read_ctich_jpg(root: Path, bone: bool = False, workers: int = 4) -> list[Subject]:
    """All subjects of a v1.0.0 folder, validated against the diagnosis CSV."""
    table = read_diagnosis(root / CSV_NAME)
    with ThreadPoolExecutor(max_workers=workers) as pool:  # JPEG decoding releases the GIL
        return [_read_subject(root, patient, rows, bone, pool) for patient, rows in table.items()]


def _read_subject(root: Path, patient: int, rows: list, bone: bool, pool: ThreadPoolExecutor) -> Subject:
    folder = patient_dir(root, patient)
    brain = folder / "brain"
    if not brain.is_dir():
        raise DataError(f"{brain}: missing image folder for patient {patient} listed in {CSV_NAME}")
    slices = [s for s, _ in rows]
    labels = np.stack([flags for _, flags in rows])
    for k, flags in rows:
        _check_mask_presence(brain, patient, k, flags)
    images = list(pool.map(lambda k: _read_slice(brain / f"{k}.jpg", patient, k), slices))
    masks = list(pool.map(lambda r: _read_mask(brain, patient, r[0], r[1], images), enumerate(rows)))
    _check_sizes(brain, images)
    bone_stack = _read_bone(folder / "bone", slices, images[0].shape, pool) if bone else None
    return Subject(
        id=f"{patient:03d}",
        image=np.stack(images),
        mask=np.stack(masks),
        labels=labels,
        slice_numbers=np.array(slices, np.int64),
        bone=bone_stack,
    )


def _check_mask_presence(brain: Path, patient: int, k: int, flags: np.ndarray) -> None:
    mask_path = brain / f"{k}_HGE_Seg.jpg"
    negative = bool(flags[NO_HEMORRHAGE])
    if negative and mask_path.exists():
        raise DataError(f"{mask_path}: mask present, but {CSV_NAME} marks patient {patient} slice {k} as No_Hemorrhage")
    if not negative and not mask_path.exists():
        raise DataError(f"{mask_path}: mask missing, but {CSV_NAME} marks patient {patient} slice {k} as hemorrhage")


def _read_slice(path: Path, patient: int, k: int) -> np.ndarray:
    if not path.exists():
        raise DataError(f"{path}: image missing for patient {patient} slice {k} listed in {CSV_NAME}")
    return _crop(read_gray(path), path)


def _read_mask(brain: Path, patient: int, index: int, row: tuple, images: list[np.ndarray]) -> np.ndarray:
    k, flags = row
    if flags[NO_HEMORRHAGE]:
        return np.zeros_like(images[index])
    path = brain / f"{k}_HGE_Seg.jpg"
    raw = read_gray(path)
    if raw.shape[0] - 2 * CROP != images[index].shape[0] or raw.shape[1] - 2 * CROP != images[index].shape[1]:
        raise DataError(
            f"{path}: mask is {raw.shape[1]}x{raw.shape[0]} but its image is "
            f"{images[index].shape[1] + 2 * CROP}x{images[index].shape[0] + 2 * CROP}"
        )
    return (_crop(raw, path) > 127).astype(np.uint8)  # JPEG-compressed masks


def _crop(image: np.ndarray, path: Path) -> np.ndarray:
    if image.shape[0] <= 2 * CROP or image.shape[1] <= 2 * CROP:
        raise DataError(f"{path}: image of {image.shape[1]}x{image.shape[0]} is too small to crop {CROP} px")
    return np.ascontiguousarray(image[CROP:-CROP, CROP:-CROP])


def _check_sizes(brain: Path, images: list[np.ndarray]) -> None:
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise DataError(f"{brain}: slices of one patient differ in size: {sorted(shapes)}")


def _read_bone(folder: Path, slices: list[int], shape: tuple[int, int], pool: ThreadPoolExecutor) -> np.ndarray:
    def one(k: int) -> np.ndarray:
        path = folder / f"{k}.jpg"
        if not path.exists():
            # The release lacks one bone slice (084/36): keep the channel, mark it empty.
            warnings.warn(f"{path}: bone-window slice missing; using zeros", stacklevel=2)
            return np.zeros(shape, np.uint8)
        return _crop(read_gray(path), path)

    return np.stack(list(pool.map(one, slices)))


def _looks_like(root: Path) -> bool:
    return (root / CSV_NAME).exists() or (root / "Patients_CT").is_dir()


READER = Reader(
    "ctich-1.0.0", "hemorrhage_diagnosis.csv + Patients_CT/ (CT-ICH 1.0.0)", _looks_like, read_ctich_jpg, priority=10
)
