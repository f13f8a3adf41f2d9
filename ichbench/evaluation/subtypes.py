"""Dice and slice detection by hemorrhage type, from the per-slice type labels every job records.

CT-ICH labels each slice with the types it shows (a slice may show several), not each voxel, so a slice's
Dice counts toward every type it is labelled with. A neuroradiologist's first question of a model is how
it does on subdural against intraparenchymal bleeds; this is the table that answers it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ichbench.data.dataset import SUBTYPES
from ichbench.evaluation.metrics import detected, dice_array

ABBREVIATIONS = {"Intraventricular": "IVH", "Intraparenchymal": "IPH", "Subarachnoid": "SAH", "Epidural": "EDH",
                 "Subdural": "SDH"}  # fmt: skip
COLUMNS = ("model", "subtype", "slices", "subjects", "dice", "sensitivity", "lesions", "lesion_sensitivity")


def subtype_scores(
    per_slice: pd.DataFrame, models: list[str], min_pixels: int, per_subject: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per model and type: its labelled slices with hemorrhage (distinct slices, seeds counted once) and
    subjects, the mean per-slice Dice over them (HGI-SAM's definition, restricted to the type) and the share
    of them detected (more than `min_pixels` predicted pixels, among those with more than `min_pixels`
    true ones); from per-subject rows that count lesions by type (evaluation.surface), the true lesions of
    the type and the share found (NaN for rows written before those counts)."""
    rows = []
    for model in models:
        mine = per_slice[per_slice["model"] == model]
        for subtype in SUBTYPES:
            flagged = mine[(mine[subtype.lower()] == 1) & (mine["truth_pixels"] > 0)]
            dice = dice_array(flagged["tp"], flagged["fp"], flagged["fn"])
            positive = flagged[detected(flagged["truth_pixels"], min_pixels)]
            found = detected(positive["pred_pixels"], min_pixels)
            rows.append({
                "model": model,
                "subtype": subtype,
                "slices": len(flagged[["subject", "slice"]].drop_duplicates()),
                "subjects": flagged["subject"].nunique(),
                "dice": float(np.mean(dice)) if len(dice) else np.nan,
                "sensitivity": float(np.mean(found)) if len(found) else np.nan,
                **_lesions(per_subject, model, subtype),
            })  # fmt: skip
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _lesions(per_subject: pd.DataFrame | None, model: str, subtype: str) -> dict[str, float]:
    """A model's true lesions of one type over its subjects (every seed) and the share found."""
    true, found = f"lesions_true_{subtype.lower()}", f"lesions_found_{subtype.lower()}"
    if per_subject is None or true not in per_subject:
        return {"lesions": np.nan, "lesion_sensitivity": np.nan}
    mine = per_subject[per_subject["model"] == model].dropna(subset=[true])
    n = float(mine[true].sum())  # over every seed; the count shown is one seed's (each subject once)
    share = float(mine[found].sum()) / n if n else np.nan
    return {
        "lesions": float(mine.drop_duplicates("subject")[true].sum()) if len(mine) else np.nan,
        "lesion_sensitivity": share,
    }


def subtype_table(scores: pd.DataFrame, value: str = "dice") -> pd.DataFrame:
    """One row per model, one column per type of `value` (Dice; or lesion_sensitivity), headed with the
    type's slice and subject counts (or, for lesions, its true lesions)."""
    if value == "dice":
        counts = scores.groupby("subtype", sort=False)[["slices", "subjects"]].max()
        heads = {t: f"{ABBREVIATIONS[t]} ({counts.loc[t, 'slices']} sl., {counts.loc[t, 'subjects']} subj.)"
                 for t in counts.index}  # fmt: skip
    else:
        lesions = scores.groupby("subtype", sort=False)["lesions"].max()
        heads = {t: f"{ABBREVIATIONS[t]} ({lesions[t]:.0f} lesions)" for t in lesions.index}
    wide = scores.pivot(index="model", columns="subtype", values=value)
    wide = wide.reindex(index=list(dict.fromkeys(scores["model"])), columns=list(heads)).rename(columns=heads)
    return wide.reset_index()
