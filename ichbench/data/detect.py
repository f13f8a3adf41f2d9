"""Which reader fits a path."""

from __future__ import annotations

from pathlib import Path

from ichbench.errors import DataError


def detect_layout(root: Path) -> str:
    """The layout of a data folder: ctich-1.0.0, ctich-1.3.1 or folder (a manifest)."""
    root = Path(root)
    if not root.exists():
        raise DataError(f"{root}: no such data folder")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    if (root / "hemorrhage_diagnosis.csv").exists() or (root / "Patients_CT").is_dir():
        return "ctich-1.0.0"
    if (root / "hemorrhage_diagnosis_raw_ct.csv").exists() or (root / "ct_scans").is_dir():
        return "ctich-1.3.1"
    if (root / "manifest.csv").exists():
        return "folder"
    if not any(root.iterdir()):
        raise DataError(f"{root}: the folder is empty")
    raise DataError(
        f"{root}: cannot tell the layout: expected hemorrhage_diagnosis.csv + Patients_CT/ (CT-ICH 1.0.0), "
        "hemorrhage_diagnosis_raw_ct.csv + ct_scans/ + masks/ (CT-ICH 1.3.1), or manifest.csv (own folder)"
    )
