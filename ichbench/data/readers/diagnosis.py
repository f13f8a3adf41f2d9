"""The per-slice diagnosis CSV of the CT-ICH releases (hemorrhage_diagnosis*.csv)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ichbench.data.dataset import LABELS
from ichbench.errors import DataError

REQUIRED = ("PatientNumber", "SliceNumber", *LABELS)


def read_diagnosis(path: Path) -> dict[int, list[tuple[int, np.ndarray]]]:
    """Patient number -> [(slice number, label flags)] sorted by slice; validates the file."""
    if not path.is_file():
        raise DataError(f"{path}: diagnosis CSV not found")
    try:
        # utf-8-sig: the v1.0.0 file starts with a byte-order mark.
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the diagnosis CSV: {exc}") from None
    if not rows:
        raise DataError(f"{path}: the diagnosis CSV is empty")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise DataError(f"{path}: missing required column(s) {', '.join(missing)}")
    cols = [header.index(c) for c in REQUIRED]
    table: dict[int, dict[int, np.ndarray]] = {}
    for line_no, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        values = _parse_row(path, line_no, row, cols)
        patient, slice_no = values[0], values[1]
        slices = table.setdefault(patient, {})
        if slice_no in slices:
            raise DataError(f"{path}: line {line_no}: duplicate row for patient {patient}, slice {slice_no}")
        slices[slice_no] = np.array(values[2:], np.uint8)
    if not table:
        raise DataError(f"{path}: the diagnosis CSV has no data rows")
    return {p: sorted(s.items()) for p, s in sorted(table.items())}


def _parse_row(path: Path, line_no: int, row: list[str], cols: list[int]) -> list[int]:
    try:
        values = [int(float(row[c])) for c in cols]
    except (IndexError, ValueError):
        raise DataError(f"{path}: line {line_no}: expected integers in {', '.join(REQUIRED)}, got {row}") from None
    if any(v not in (0, 1) for v in values[2:]):
        raise DataError(f"{path}: line {line_no}: label flags must be 0 or 1, got {values[2:]}")
    return values


def write_diagnosis(path: Path, rows: list[tuple[int, int, np.ndarray]]) -> None:
    """Write (patient, slice, flags) rows in the releases' format (with the v1.0.0 byte-order mark)."""
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(REQUIRED)
        for patient, slice_no, flags in rows:
            writer.writerow([patient, slice_no, *(int(v) for v in flags)])
