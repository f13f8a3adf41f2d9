"""DICOM series reading (optional extra: pip install "ichbench[dicom]")."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ichbench.errors import DataError


def read_dicom_series(folder: Path, files: list[Path]) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """One series' slices in HU (S, rows, cols), a RAS affine for (col, row, slice) voxels, and the spacing."""
    try:
        import pydicom
    except ImportError:
        raise DataError(f'{folder}: reading DICOM needs pydicom: pip install "ichbench[dicom]"') from None
    try:
        slices = [pydicom.dcmread(str(p)) for p in files]
    except Exception as exc:  # pydicom raises several types for non-DICOM or damaged files
        raise DataError(f"{folder}: cannot read DICOM ({type(exc).__name__}: {exc})") from None
    series = {str(getattr(s, "SeriesInstanceUID", "?")) for s in slices}
    if len(series) > 1:
        raise DataError(f"{folder}: the folder mixes {len(series)} DICOM series; give one series per folder")
    orient = np.array(slices[0].ImageOrientationPatient, float)
    normal = np.cross(orient[:3], orient[3:])
    slices.sort(key=lambda s: float(np.dot(normal, np.array(s.ImagePositionPatient, float))))
    hu = np.stack(
        [
            s.pixel_array * float(getattr(s, "RescaleSlope", 1)) + float(getattr(s, "RescaleIntercept", 0))
            for s in slices
        ]
    ).astype(np.float32)
    row_mm, col_mm = (float(v) for v in slices[0].PixelSpacing)
    first = np.array(slices[0].ImagePositionPatient, float)
    step = (np.array(slices[-1].ImagePositionPatient, float) - first) / max(len(slices) - 1, 1)
    affine = np.eye(4)
    affine[:3, 0] = orient[:3] * col_mm  # voxel x runs along a row (column index)
    affine[:3, 1] = orient[3:] * row_mm  # voxel y runs down a column (row index)
    affine[:3, 2] = step if len(slices) > 1 else normal * float(getattr(slices[0], "SliceThickness", 1.0))
    affine[:3, 3] = first
    lps_to_ras = np.diag([-1.0, -1.0, 1.0, 1.0])
    thickness = float(np.linalg.norm(affine[:3, 2]))
    return hu, lps_to_ras @ affine, (thickness, row_mm, col_mm)
