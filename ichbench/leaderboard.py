"""The versioned leaderboard: one CSV per (data set, protocol version), rows appended under a file lock."""

from __future__ import annotations

import io
import math
import os
import re
from pathlib import Path

import pandas as pd
import platformdirs
from filelock import FileLock

from ichbench.atomic import atomic_write_text
from ichbench.evaluation.metrics import METRICS

ID_COLUMNS = ["date", "model", "kind", "params"]
METRIC_COLUMNS = [c for m in METRICS for c in (m, f"{m}_std")]
META_COLUMNS = [
    "folds",
    "epochs",
    "wall_s",
    "device",
    "torch",
    "ichbench",
    "commit",
    "protocol",
    "protocol_hash",
    "dataset",
    "dataset_fingerprint",
    "trained_on",
    "run",
]
COLUMNS = ID_COLUMNS + METRIC_COLUMNS + META_COLUMNS


def default_directory() -> Path:
    """Where runs append by default: $ICHBENCH_LEADERBOARD, else the user's data folder (never the checkout)."""
    env = os.environ.get("ICHBENCH_LEADERBOARD")
    return Path(env) if env else platformdirs.user_data_path("ichbench") / "leaderboards"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "unnamed"


def board_path(directory: Path, dataset: str, protocol: str, protocol_hash: str) -> Path:
    """`<dataset>__<protocol>.csv`; rows of another protocol hash go to `..__<protocol>-<hash>.csv`."""
    base = Path(directory) / f"{_slug(dataset)}__{_slug(protocol)}.csv"
    if not base.exists() or _hash_of(base) in (None, protocol_hash):
        return base
    return base.with_name(f"{_slug(dataset)}__{_slug(protocol)}-{protocol_hash[:8]}.csv")


def _hash_of(path: Path) -> str | None:
    hashes = pd.read_csv(path, usecols=["protocol_hash"], dtype=str)["protocol_hash"].dropna().unique()
    return hashes[0] if len(hashes) else None


def append(directory: Path, rows: list[dict]) -> Path:
    """Append rows (one data set and protocol) atomically under a lock; returns the CSV's path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    first = rows[0]
    with FileLock(str(directory / ".leaderboard.lock"), timeout=120):
        path = board_path(directory, first["dataset"], first["protocol"], first["protocol_hash"])
        old = path.read_text() if path.exists() else ""
        buf = io.StringIO()
        if old and old.splitlines()[0].split(",") != COLUMNS:
            # A table from an older version: the same rows, new columns added (empty for the old rows).
            frame = pd.concat([pd.read_csv(path, dtype=str), pd.DataFrame(rows, columns=COLUMNS)], ignore_index=True)
            extra = [c for c in frame.columns if c not in COLUMNS]
            frame[COLUMNS + extra].to_csv(buf, index=False, float_format="%.6g")
            atomic_write_text(path, buf.getvalue())
        else:
            pd.DataFrame(rows, columns=COLUMNS).to_csv(buf, index=False, header=not old, float_format="%.6g")
            atomic_write_text(path, old + buf.getvalue())
        atomic_write_text(directory / "README.md", render(directory))
    return path


def read(directory: Path) -> dict[str, pd.DataFrame]:
    """Every leaderboard CSV in a folder, by file stem."""
    return {p.stem: pd.read_csv(p) for p in sorted(Path(directory).glob("*.csv"))}


PUBLISHED = pd.DataFrame(
    [
        ("U-Net", 0.315, 0.218, 0.4651, 0.7075),
        ("U-Net++", 0.332, 0.240, 0.4935, 0.6667),
        ("ResUNet", 0.276, 0.2, 0.6206, 0.6415),
        ("LinkNet", 0.041, 0.023, 0.4575, 0.7642),
        ("threshold (140-230)", 0.135, 0.08, math.nan, math.nan),
    ],
    columns=["model", "dice", "jaccard", "sensitivity", "specificity"],
)


def _fmt(mean: float, std: float | None = None) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {std:.3f}"


def _external(row: pd.Series) -> str:
    return f" (external: trained on {row['trained_on']})" if row.get("kind") == "external" else ""


def table(frame: pd.DataFrame) -> str:
    """A Markdown table of leaderboard rows (newest first)."""
    head = (
        "| date | model | Dice (paper) | Jaccard (paper) | Dice 3-D | Dice global | HD95 px | sens. | spec. "
        "| prec. | folds | epochs | device | commit |"
    )
    lines = [head, "|" + " --- |" * 14]
    for _, r in frame.iloc[::-1].iterrows():
        lines.append(
            f"| {str(r['date'])[:10]} | {r['model']}{_external(r)} "
            f"| {_fmt(r['dice_paper'], r['dice_paper_std'])} | {_fmt(r['jaccard_paper'], r['jaccard_paper_std'])} "
            f"| {_fmt(r['dice_3d'])} | {_fmt(r['dice_global'])} | {_fmt(r['hd95'])} | {_fmt(r['sensitivity'])} "
            f"| {_fmt(r['specificity'])} | {_fmt(r['precision'])} | {r['folds']} | {r['epochs']} | {r['device']} "
            f"| {r['commit']} |"
        )
    return "\n".join(lines)


def render(directory: Path) -> str:
    """leaderboards/README.md: every table, with the seed paper's published rows beside the paper protocol."""
    parts = [
        "# ichbench leaderboards",
        "",
        "Rendered from the CSV files in this folder by `ichbench` after every run; do not edit by hand.",
        "Metric definitions: see the project README. Rows are never rewritten; newest first.",
        "",
    ]
    notes = Path(directory) / "NOTES.md"  # hand-written context (hash changes, what a table is)
    if notes.exists():
        parts += [notes.read_text().strip(), ""]
    for stem, frame in read(directory).items():
        first = frame.iloc[0]
        parts += [
            f"## {first['dataset']} / protocol `{first['protocol']}` ({first['protocol_hash']})",
            "",
            f"Source: `{stem}.csv`. Data-set fingerprint `{str(first['dataset_fingerprint'])[:16]}`.",
            "",
        ]
        report = Path(directory) / "reports" / stem / "report.html"
        if report.exists():
            parts += [
                f"Report of the newest committed run: [reports/{stem}/report.html](reports/{stem}/report.html) "
                f"([Markdown](reports/{stem}/report.md)).",
                "",
            ]
        latest = frame.drop_duplicates("model", keep="last").sort_values("dice_paper", ascending=False)
        parts += ["Latest row per model (best Dice first):", "", table(latest.iloc[::-1]), ""]
        if len(frame) > len(latest):
            parts += [
                f"<details><summary>History: all {len(frame)} rows, newest first</summary>",
                "",
                table(frame),
                "",
                "</details>",
                "",
            ]
        if first["protocol"] == "paper":
            parts += _published_section(frame)
    return "\n".join(parts) + "\n"


def _published_section(frame: pd.DataFrame) -> list[str]:
    lines = [
        "Published in the seed paper (Table 9 and section 5; CT-ICH, 5-fold CV), for comparison:",
        "",
        "| model (published) | Dice | Jaccard | sensitivity | specificity |",
        "| --- | --- | --- | --- | --- |",
    ]
    for _, r in PUBLISHED.iterrows():
        cells = ["-" if math.isnan(r[c]) else f"{r[c]:g}" for c in ("dice", "jaccard", "sensitivity", "specificity")]
        lines.append(f"| {r['model']} | " + " | ".join(cells) + " |")  # as printed in the paper
    fixed = frame[frame["model"] == "threshold-fixed"]
    if len(fixed):
        last = fixed.iloc[-1]
        lines += [
            "",
            f"The paper's first experiment, the fixed band 140-230 (`threshold-fixed`): Dice {last['dice_paper']:.3f}, "
            f"Jaccard {last['jaccard_paper']:.3f} here against the published 0.135 / 0.08.",
        ]
    if "sensitivity_original" in frame.columns and frame["sensitivity_original"].notna().any():
        lines += ["", *_detection_rules(frame)]
    return lines + [""]


def _detection_rules(frame: pd.DataFrame) -> list[str]:
    """Our detection under both rules beside the published sensitivity/specificity, and why they differ."""
    latest = frame[frame["sensitivity_original"].notna()].drop_duplicates("model", keep="last")
    lines = [
        "Slice detection, 400-pixel rule. The published sensitivity/specificity come from the original code, "
        "which compared its 0/255 ground truth and 0/1 predictions with the same pixel count, so a ground-truth "
        "slice counted as positive from 2 pixels while a prediction needed 401; the `_original` columns "
        "reproduce that rule, the headline columns apply 400 pixels to both:",
        "",
        "| model | sens. (one rule) | spec. (one rule) | sens. (original rule) | spec. (original rule) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for _, r in latest.iterrows():
        lines.append(
            f"| {r['model']} | {_fmt(r['sensitivity'])} | {_fmt(r['specificity'])} "
            f"| {_fmt(r['sensitivity_original'])} | {_fmt(r['specificity_original'])} |"
        )
    return lines
