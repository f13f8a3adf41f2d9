"""Reader of a user's own data set: image/mask pairs listed in a manifest CSV.

manifest.csv columns: subject, slice, image, mask (paths relative to the manifest; an empty mask
cell means no hemorrhage), and optionally any of the CT-ICH label columns. PNG/JPG images are taken
as already in the brain window; NIfTI slices are taken as Hounsfield units and windowed.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ichbench.data.dataset import LABELS, Subject, window_hu
from ichbench.data.readers import Reader
from ichbench.data.readers.imageio import is_nifti, read_gray, read_nifti
from ichbench.errors import DataError

MANIFEST = "manifest.csv"
REQUIRED = ("subject", "slice", "image", "mask")
NO_HEMORRHAGE = LABELS.index("No_Hemorrhage")


def read_folder(root: Path) -> list[Subject]:
    """All subjects listed in root/manifest.csv."""
    rows = _read_manifest(root / MANIFEST)
    by_subject: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_subject.setdefault(row["subject"], []).append(row)
    return [_read_subject(root, sid, sorted(r, key=lambda x: int(x["slice"]))) for sid, r in by_subject.items()]


def _read_manifest(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise DataError(f"{path}: manifest not found")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise DataError(f"{path}: missing required column(s) {', '.join(missing)}")
            rows = [{k.strip(): (v or "").strip() for k, v in r.items() if k} for r in reader]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a readable CSV manifest ({exc})") from None
    if not rows:
        raise DataError(f"{path}: the manifest has no rows")
    seen: set[tuple[str, str]] = set()
    for line_no, row in enumerate(rows, start=2):
        key = (row["subject"], row["slice"])
        if not row["slice"].lstrip("-").isdigit():
            raise DataError(f"{path}: line {line_no}: slice must be an integer, got {row['slice']!r}")
        if key in seen:
            raise DataError(f"{path}: line {line_no}: duplicate row for subject {key[0]}, slice {key[1]}")
        seen.add(key)
    return rows


def _read_subject(root: Path, sid: str, rows: list[dict[str, str]]) -> Subject:
    images, masks, labels = [], [], []
    for row in rows:
        image_path = root / row["image"]
        image = _read_image(image_path)
        mask = _read_mask(root / row["mask"], image.shape, image_path) if row["mask"] else np.zeros_like(image)
        images.append(image)
        masks.append(mask)
        labels.append(_labels(row, bool(mask.any())))
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise DataError(f"{root / MANIFEST}: slices of subject {sid} differ in size: {sorted(shapes)}")
    return Subject(
        id=sid,
        image=np.stack(images),
        mask=np.stack(masks),
        labels=np.stack(labels),
        slice_numbers=np.array([int(r["slice"]) for r in rows], np.int64),
    )


def _read_image(path: Path) -> np.ndarray:
    if is_nifti(path):
        hu, _ = read_nifti(path, ndim=(2, 3))
        return window_hu(_squeeze_slice(hu, path))
    return read_gray(path)


def _read_mask(path: Path, shape: tuple[int, ...], image_path: Path) -> np.ndarray:
    if is_nifti(path):
        vox, _ = read_nifti(path, ndim=(2, 3))
        mask = _squeeze_slice(vox, path) > 0
    else:
        raw = read_gray(path)
        # JPEG masks carry compression noise; lossless ones may be 0/1 or 0/255.
        mask = raw > 127 if path.suffix.lower() in (".jpg", ".jpeg") else raw > 0
    if mask.shape != shape:
        raise DataError(
            f"{path}: mask is {mask.shape[1]}x{mask.shape[0]} but its image {image_path.name} is {shape[1]}x{shape[0]}"
        )
    return mask.astype(np.uint8)


def _squeeze_slice(data: np.ndarray, path: Path) -> np.ndarray:
    if data.ndim == 3:
        if data.shape[2] != 1:
            raise DataError(f"{path}: expected one slice, got a volume of shape {data.shape}")
        data = data[:, :, 0]
    return np.ascontiguousarray(data.T)  # NIfTI (x, y) -> (row, col)


def _labels(row: dict[str, str], has_mask: bool) -> np.ndarray:
    flags = np.zeros(len(LABELS), np.uint8)
    for i, name in enumerate(LABELS):
        if row.get(name):
            flags[i] = int(float(row[name]))
    if not row.get(LABELS[NO_HEMORRHAGE]):
        flags[NO_HEMORRHAGE] = 0 if has_mask else 1
    return flags


def _read(root: Path, bone: bool = False) -> list[Subject]:
    if bone:
        raise DataError(f"{root}: the folder layout has no bone window")
    return read_folder(root)


READER = Reader("folder", f"{MANIFEST} (own folder)", lambda root: (root / MANIFEST).exists(), _read, priority=90)
