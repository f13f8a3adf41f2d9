"""Dice and lesion sensitivity by hemorrhage type for leaderboard rows, re-derived from each row's evidence
(`leaderboard --types`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ichbench.evaluation.subtypes import subtype_scores
from ichbench.protocol import parse_protocol
from ichbench.rundir import PROTOCOL, model_results


def row_types(directory: Path, rows: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Per leaderboard row with evidence (labelled `labels[i]`) and hemorrhage type: its scores
    (evaluation.subtypes.subtype_scores; `subtype_table` makes a table of one of them). Rows without
    evidence are left out; the evidence is read once."""
    frames = []
    for label, (_, row) in zip(labels, rows.iterrows()):
        folder = Path(directory) / str(row.get("evidence") or "")
        if not str(row.get("evidence") or "").strip() or not (folder / PROTOCOL).is_file():
            continue
        results = model_results(folder, str(row["model"]))
        if not results:
            continue
        min_px = parse_protocol((folder / PROTOCOL).read_text(), str(folder / PROTOCOL)).metrics.detection_pixels
        per_slice = pd.DataFrame([s for r in results for s in r.per_slice]).assign(model=label)
        per_subject = pd.DataFrame([s for r in results for s in r.per_subject]).assign(model=label)
        frames.append(subtype_scores(per_slice, [label], min_px, per_subject))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
