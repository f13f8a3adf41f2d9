"""Reading and writing slice images and NIfTI volumes, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
from PIL import Image, UnidentifiedImageError

from ichbench.errors import DataError

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti(path: Path) -> bool:
    """Does the file name end in .nii or .nii.gz."""
    return path.name.endswith(NIFTI_SUFFIXES)


def read_gray(path: Path) -> np.ndarray:
    """A PNG/JPG image as a (H, W) uint8 array; truncated or unreadable files are a DataError."""
    try:
        with Image.open(path) as im:
            im.load()
            gray = im.convert("L")
            return np.asarray(gray, dtype=np.uint8).copy()
    except FileNotFoundError:
        raise DataError(f"{path}: image file not found") from None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: cannot read image ({exc})") from None


def read_label_image(path: Path) -> np.ndarray:
    """A PNG label map as (H, W) integer values, as stored (a palette image gives its indices; no
    conversion to gray levels, which would change the values)."""
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("L", "P", "I", "I;16", "1"):
                raise DataError(f"{path}: a label map must be a one-channel image, got mode {im.mode}")
            return np.asarray(im).astype(np.int64)
    except FileNotFoundError:
        raise DataError(f"{path}: label file not found") from None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: cannot read label image ({exc})") from None


def write_gray(path: Path, image: np.ndarray, quality: int = 95) -> None:
    """Write a (H, W) uint8 image; JPEG at the given quality, PNG lossless."""
    Image.fromarray(np.asarray(image, np.uint8), mode="L").save(path, quality=quality)


def read_nifti(path: Path, ndim: int | tuple[int, ...] = 3) -> tuple[np.ndarray, nib.Nifti1Image]:
    """Voxels as float32 (finite, of the expected rank) and the image (header, affine)."""
    try:
        img = nib.load(str(path))
        kind = img.get_data_dtype().kind
        if kind not in "biuf":  # complex, RGB or other structured voxels are not a CT intensity
            raise DataError(f"{path}: voxels of type {img.get_data_dtype()} are not real numbers")
        data = np.asarray(img.dataobj, dtype=np.float32)
    except FileNotFoundError:
        raise DataError(f"{path}: NIfTI file not found") from None
    except DataError:
        raise
    except Exception as exc:  # nibabel raises many types for damaged files
        raise DataError(f"{path}: cannot read NIfTI ({type(exc).__name__}: {exc})") from None
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if data.ndim not in allowed:
        want = " or ".join(f"{n}-D" for n in allowed)
        raise DataError(f"{path}: expected a {want} NIfTI image, got {data.ndim}-D with shape {data.shape}")
    if not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).sum())
        raise DataError(f"{path}: {bad} voxel(s) are NaN or infinite")
    return data, img


def volume_to_slices(volume: np.ndarray) -> np.ndarray:
    """NIfTI (x, y, z) voxel order -> (slice, row, col) display order, anterior up."""
    return np.ascontiguousarray(np.flip(np.transpose(volume, (2, 1, 0)), axis=1))


def slices_to_volume(stack: np.ndarray) -> np.ndarray:
    """The inverse of volume_to_slices."""
    return np.ascontiguousarray(np.transpose(np.flip(stack, axis=1), (2, 1, 0)))
