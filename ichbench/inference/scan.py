"""New scans to segment: a NIfTI volume in HU, a DICOM series, or a folder of brain-window slices."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from ichbench.data.dataset import window_hu
from ichbench.data.inputs import EXTRA, InputSpec, assemble, hu_planes
from ichbench.data.readers.imageio import is_nifti, read_gray, read_nifti, slices_to_volume, volume_to_slices
from ichbench.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass
class Scan:
    """Brain-window slices (S, H, W) uint8 (and the HU they came from) and the geometry to write results back."""

    image: np.ndarray
    affine: np.ndarray  # voxel (x, y, z) -> mm
    spacing: tuple[float, float, float] | None  # (slice, row, col) mm; None when unknown
    header: nib.Nifti1Header | None
    source: str
    flip_rows: bool = False  # NIfTI inputs are shown anterior-up, which flips their y axis
    hu: np.ndarray | None = None  # (S, H, W) Hounsfield units, when the input was in HU

    def model_input(self, spec: InputSpec) -> np.ndarray:
        """(S, C, H, W) uint8: the display windows and neighbouring slices a bundle's input names."""
        extra = [name for name in EXTRA if spec.needs(name)]
        if extra and self.hu is None:
            raise DataError(
                f"{self.source}: the model's input needs the {' and '.join(extra)} window(s), computed from "
                "Hounsfield units; this input holds brain-window slices only (give a NIfTI or DICOM volume in HU)"
            )
        planes = {"brain": self.image, **(hu_planes(self.hu, tuple(extra)) if extra else {})}
        return assemble(planes, spec, self.source)

    def to_volume(self, stack: np.ndarray) -> np.ndarray:
        """(S, H, W) -> voxel order (x, y, z) matching `affine`."""
        if self.flip_rows:
            return slices_to_volume(stack)
        return np.ascontiguousarray(np.transpose(stack, (2, 1, 0)))


def read_scan(path: Path, input_window: str = "hu") -> Scan:
    """Read INPUT for `ichbench predict`; input_window is 'hu' (raw HU) or 'brain' (already windowed)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_file() and is_nifti(path):
        return _read_nifti(path, input_window)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())
        if any(p.suffix.lower() in IMAGE_SUFFIXES for p in files):
            return _read_slices(path, files)
        if files:
            from ichbench.inference.dicom import read_dicom_series

            hu, affine, spacing = read_dicom_series(path, files)
            return Scan(_window(hu, input_window, path), affine, spacing, None, "dicom", hu=_hu(hu, input_window))
    raise DataError(
        f"{path}: expected a NIfTI volume (.nii/.nii.gz), a DICOM series folder, or a folder of "
        "PNG/JPG brain-window slices"
    )


def _read_nifti(path: Path, input_window: str) -> Scan:
    data, img = read_nifti(path, ndim=3)
    zooms = tuple(float(z) for z in img.header.get_zooms()[:3])
    unknown_units = img.header.get_xyzt_units()[0] == "unknown"
    spacing: tuple[float, float, float] | None = (zooms[2], zooms[1], zooms[0])
    if any(z <= 0 for z in zooms) or (unknown_units and all(z == 1.0 for z in zooms)):
        warnings.warn(
            f"{path}: no voxel spacing in the header; the mask is written, volumes are not reported", stacklevel=2
        )
        spacing = None
    slices = volume_to_slices(data)
    image = _window(slices, input_window, path)
    return Scan(image, img.affine, spacing, img.header, "nifti", flip_rows=True, hu=_hu(slices, input_window))


def _hu(values: np.ndarray, input_window: str) -> np.ndarray | None:
    return np.asarray(values, np.float32) if input_window == "hu" else None


def _window(values: np.ndarray, input_window: str, path: Path) -> np.ndarray:
    if input_window == "brain":
        if values.min() < 0 or values.max() > 255:
            raise DataError(
                f"{path}: --input-window brain expects 0..255 values, got {values.min():g}..{values.max():g}"
            )
        return np.rint(values).astype(np.uint8)
    if values.min() >= 0 and values.max() <= 255:
        # Head CT in HU always has air near -1000: values within 0..255 mean an already windowed image.
        raise DataError(
            f"{path}: intensities {values.min():g}..{values.max():g} do not look like Hounsfield units "
            "(no air below 0); if the image is already in the brain window, pass --input-window brain"
        )
    return window_hu(values)


def _read_slices(path: Path, files: list[Path]) -> Scan:
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    ordered = sorted(images, key=lambda p: (len(p.stem), p.stem))  # 2.png before 10.png
    stack = [read_gray(p) for p in ordered]
    shapes = {s.shape for s in stack}
    if len(shapes) > 1:
        raise DataError(f"{path}: slices differ in size: {sorted(shapes)}")
    warnings.warn(f"{path}: slice images carry no voxel spacing; volumes are not reported", stacklevel=2)
    return Scan(np.stack(stack), np.eye(4), None, None, "slices")
