"""The rendered leaderboard page (leaderboards/README.md) and the seed paper's published values."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ichbench.evaluation.metrics import Metric, fmt
from ichbench.evaluation.metrics import table as metric_table


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


def _cell(metric: Metric, row: pd.Series, with_std: bool = False) -> str:
    """A row's value of a metric at its precision, with its std for subject metrics; '-' where missing."""
    text = fmt(metric, row.get(metric.name))
    std = row.get(f"{metric.name}_std")
    return text if text == "-" or not with_std or pd.isna(std) else f"{text} ± {fmt(metric, std)}"


def _external(row: pd.Series) -> str:
    return f" (external: trained on {row['trained_on']})" if row.get("kind") == "external" else ""


def _evidence(row: pd.Series) -> str:
    """A link to the row's evidence folder, or why it has none."""
    evidence = row.get("evidence")
    if not isinstance(evidence, str) or not evidence:
        return "-"
    return "unverifiable" if evidence.startswith("unverifiable") else f"[{evidence.split('__')[-1]}]({evidence})"


def table(frame: pd.DataFrame) -> str:
    """A Markdown table of leaderboard rows (newest first)."""
    metrics = metric_table(group="headline")
    head = ["date", "model", *(m.label for m in metrics), "folds", "epochs", "device", "commit", "evidence"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for _, r in frame.iloc[::-1].iterrows():
        cells = [str(r["date"])[:10], f"{r['model']}{_external(r)}"]
        cells += [_cell(m, r, with_std=m.level == "subject") for m in metrics]
        cells += [str(r["folds"]), str(r["epochs"]), str(r["device"]), str(r["commit"]), _evidence(r)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(directory: Path) -> str:
    """leaderboards/README.md: every table, with the seed paper's published rows beside the paper protocol."""
    boards = read(directory)
    parts = [
        "# ichbench leaderboards",
        "",
        "Rendered from the CSV files in this folder by `ichbench` after every run; do not edit by hand. Rows are",
        "never rewritten. Metric definitions: `docs/metrics.md`; what each table is: the notes at the end.",
        "",
        *(f"- [{f.iloc[0]['dataset']} / `{f.iloc[0]['protocol']}` ({f.iloc[0]['protocol_hash']})](#{_anchor(s)}): "
          f"{len(f)} rows" for s, f in boards.items()),
        "",
    ]  # fmt: skip
    for stem, frame in boards.items():
        first = frame.iloc[0]
        parts += [
            f'<a id="{_anchor(stem)}"></a>',
            "",
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
    notes = Path(directory) / "NOTES.md"  # hand-written context (hash changes, what a table is)
    if notes.exists():
        parts += ["## Notes", "", notes.read_text().strip(), ""]
    return "\n".join(parts) + "\n"


def _anchor(stem: str) -> str:
    return "table-" + stem.replace(".", "-").replace("_", "-")


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
    names = ("sensitivity", "specificity", "sensitivity_original", "specificity_original")
    chosen = [m for m in metric_table() if m.name in names]
    for _, r in latest.iterrows():
        lines.append(f"| {r['model']} | " + " | ".join(_cell(m, r) for m in chosen) + " |")
    return lines
