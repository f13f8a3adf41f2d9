"""The seed paper's published results (Table 9 and section 5), as data, and which runs they compare with."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ichbench.protocol import load_protocol

# As printed in the paper (CT-ICH v1.0.0, 5-fold CV, 640 px), with where: the four networks in Table 9, the
# fixed band in the text of section 5 ("Results"). Means only: the paper gives no spread.
PUBLISHED = pd.DataFrame(
    [
        ("U-Net", 0.315, 0.218, 0.4651, 0.7075, "Table 9"),
        ("U-Net++", 0.332, 0.240, 0.4935, 0.6667, "Table 9"),
        ("ResUNet", 0.276, 0.2, 0.6206, 0.6415, "Table 9"),
        ("LinkNet", 0.041, 0.023, 0.4575, 0.7642, "Table 9"),
        ("threshold (140-230)", 0.135, 0.08, math.nan, math.nan, "section 5 text"),
    ],
    columns=["model", "dice", "jaccard", "sensitivity", "specificity", "source"],
)
# Our model names of the published rows.
PUBLISHED_NAMES = {
    "unet": "U-Net",
    "unetplusplus": "U-Net++",
    "resunet": "ResUNet",
    "linknet": "LinkNet",
    "threshold-fixed": "threshold (140-230)",
}
# Other published CT-ICH results, each under its own definition, which is a metric of our table (docs/metrics.md
# cites the code each was read from). Their tests are not the paper's: `test` says how they differ. Means only.
ANCHORS = pd.DataFrame(
    [
        (
            "HGI-SAM",
            "dice_slice",
            0.44,
            "MELBA 2023",  # Rasoulian et al.
            "weakly supervised (trained on RSNA slice labels); every CT-ICH slice with a mask, 5 folds, 384 px",
        ),
    ],
    columns=["model", "metric", "value", "source", "test"],
)
REFERENCE = "U-Net"  # the published row every model of the paper's test is tested against
# The best published network (by mean Dice): a claim to beat "every published model" is tested against it.
BEST = str(PUBLISHED[PUBLISHED["source"] == "Table 9"].sort_values("dice").iloc[-1]["model"])


def published_rows(anchors: bool = True) -> pd.DataFrame:
    """The published means as rows of our columns (recipe: "<where it is printed> (published)"), to list beside a
    table of the paper's test: the seed paper's, then (with `anchors`) the others under their own metric."""
    paper = pd.DataFrame(
        {
            "model": PUBLISHED["model"],
            "recipe": PUBLISHED["source"].str.replace("section 5 text", "sec. 5") + " (published)",
            "dice_paper": PUBLISHED["dice"],
            "jaccard_paper": PUBLISHED["jaccard"],
        }
    )
    if not anchors:
        return paper
    others = [{"model": a.model, "recipe": f"{a.source} (published)", a.metric: a.value} for a in ANCHORS.itertuples()]
    return pd.concat([paper, pd.DataFrame(others)], ignore_index=True)


def published_dice(name: str = REFERENCE) -> float:
    """A published row's Dice."""
    return float(PUBLISHED.set_index("model").loc[name, "dice"])


def on_paper_test(meta: dict[str, Any]) -> bool:
    """Whether a run (its run.json or row) is scored by the paper's test, so Table 9 compares with it: a
    paper protocol, or any recipe whose test hash is the paper's."""
    if str(meta.get("protocol", "")).startswith("paper"):
        return True
    test = meta.get("test_hash")
    return isinstance(test, str) and bool(test) and test == load_protocol("paper").test_hash
