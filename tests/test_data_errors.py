"""Every kind of bad input gives one clear error naming the file, exit code 2, no traceback, nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from ichbench.data.readers.imageio import write_gray


def _csv(root: Path) -> Path:
    return root / "hemorrhage_diagnosis.csv"


def _slice_where(root: Path, no_hemorrhage: str) -> tuple[str, int]:
    """The first (patient, slice) whose No_Hemorrhage flag is "0" or "1"."""
    for line in _csv(root).read_text(encoding="utf-8-sig").splitlines()[1:]:
        cells = line.split(",")
        if cells[7] == no_hemorrhage:
            return f"{int(cells[0]):03d}", int(cells[1])
    raise AssertionError(f"phantom has no slice with No_Hemorrhage={no_hemorrhage}")


def _positive_slice(root: Path) -> tuple[str, int]:
    return _slice_where(root, "0")


def _negative_slice(root: Path) -> tuple[str, int]:
    return _slice_where(root, "1")


def _brain(root: Path, patient: str) -> Path:
    return root / "Patients_CT" / patient / "brain"


def mask_on_negative_slice(root: Path) -> str:
    p, k = _positive_slice(root)
    q, n = _negative_slice(root)
    shutil.copy(_brain(root, p) / f"{k}_HGE_Seg.jpg", _brain(root, q) / f"{n}_HGE_Seg.jpg")
    return rf"{q}/brain/{n}_HGE_Seg.jpg: mask present, but .* slice {n} as No_Hemorrhage"


def mask_missing_on_positive_slice(root: Path) -> str:
    p, k = _positive_slice(root)
    (_brain(root, p) / f"{k}_HGE_Seg.jpg").unlink()
    return rf"{p}/brain/{k}_HGE_Seg.jpg: mask missing, but .* slice {k} as hemorrhage"


def csv_row_without_image(root: Path) -> str:
    with _csv(root).open("a", encoding="utf-8") as fh:
        fh.write("1,99,0,0,0,0,0,1,0\r\n")
    return r"001/brain/99.jpg: image missing for patient 1 slice 99"


def truncated_jpeg(root: Path) -> str:
    path = _brain(root, "002") / "3.jpg"
    path.write_bytes(path.read_bytes()[:300])
    return r"002/brain/3.jpg: cannot read image"


def mask_size_differs(root: Path) -> str:
    p, k = _positive_slice(root)
    write_gray(_brain(root, p) / f"{k}_HGE_Seg.jpg", np.zeros((50, 60), np.uint8))
    return rf"{k}_HGE_Seg.jpg: mask is 60x50 but its image is 106x106"


def duplicate_csv_row(root: Path) -> str:
    lines = _csv(root).read_text(encoding="utf-8-sig").splitlines()
    _csv(root).write_text("\n".join(lines + [lines[3]]) + "\n", encoding="utf-8-sig")
    return r"hemorrhage_diagnosis.csv: line \d+: duplicate row for patient 1, slice 3"


def missing_column(root: Path) -> str:
    text = _csv(root).read_text(encoding="utf-8-sig").replace("Subdural", "Subdurall")
    _csv(root).write_text(text, encoding="utf-8-sig")
    return r"hemorrhage_diagnosis.csv: missing required column\(s\) Subdural"


@pytest.mark.parametrize(
    "damage",
    [
        mask_on_negative_slice,
        mask_missing_on_positive_slice,
        csv_row_without_image,
        truncated_jpeg,
        mask_size_differs,
        duplicate_csv_row,
        missing_column,
    ],
)
def test_bad_jpg_release(phantom_jpg: Path, damage, cli, isolated_cache: Path) -> None:
    message = damage(phantom_jpg)
    proc = cli("data", "check", phantom_jpg)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr  # one line
    import re

    assert re.search(message, proc.stderr), proc.stderr
    assert not any(isolated_cache.iterdir()), "nothing may be cached from a bad data set"


def _save(path: Path, data: np.ndarray) -> None:
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))


def nan_voxels(root: Path) -> str:
    data = np.asarray(nib.load(str(root / "ct_scans" / "002.nii")).dataobj).astype(np.float32)
    data[3, 4, 1] = np.nan
    data[5, 5, 2] = np.inf
    _save(root / "ct_scans" / "002.nii", data)
    return r"ct_scans/002.nii: 2 voxel\(s\) are NaN or infinite"


def four_d(root: Path) -> str:
    data = np.asarray(nib.load(str(root / "ct_scans" / "001.nii")).dataobj)
    _save(root / "ct_scans" / "001.nii", np.stack([data, data], axis=-1))
    return r"ct_scans/001.nii: expected a 3-D NIfTI image, got 4-D"


def truncated_nifti(root: Path) -> str:
    path = root / "masks" / "003.nii"
    path.write_bytes(path.read_bytes()[:1000])
    return r"masks/003.nii: cannot read NIfTI"


def garbage_nifti(root: Path) -> str:
    (root / "ct_scans" / "004.nii").write_bytes(b"not a nifti file at all" * 20)
    return r"ct_scans/004.nii: cannot read NIfTI"


@pytest.mark.parametrize("damage", [nan_voxels, four_d, truncated_nifti, garbage_nifti])
def test_bad_nifti_release(phantom_nifti: Path, damage, cli) -> None:
    import re

    message = damage(phantom_nifti)
    proc = cli("data", "check", phantom_nifti)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert re.search(message, proc.stderr), proc.stderr


def test_empty_folder(tmp_path: Path, cli) -> None:
    (tmp_path / "empty").mkdir()
    proc = cli("data", "check", tmp_path / "empty")
    assert proc.returncode == 2 and "empty: the folder is empty" in proc.stderr


def test_unknown_layout(tmp_path: Path, cli) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("hello")
    proc = cli("data", "check", tmp_path / "x")
    assert proc.returncode == 2 and "cannot tell the layout" in proc.stderr
