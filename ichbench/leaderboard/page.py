"""The rendered leaderboard page (leaderboards/README.md) and the seed paper's published values."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ichbench.atomic import atomic_write_bytes
from ichbench.evaluation.budget import BUDGET, fmt_budget
from ichbench.evaluation.metrics import ALL_FLAGGED_NOTE, Metric, all_flagged, fmt, original_truth_pixels
from ichbench.evaluation.metrics import table as metric_table
from ichbench.evaluation.published import ANCHORS, PUBLISHED, PUBLISHED_NAMES, REFERENCE, on_paper_test, published_dice
from ichbench.leaderboard.cells import recipe_labels
from ichbench.protocol import load_protocol


def read(directory: Path) -> dict[str, pd.DataFrame]:
    """Every leaderboard CSV in a folder, by file stem: the tables of a test first (the current ones), then
    those of older protocol versions."""
    paths = sorted(Path(directory).glob("*.csv"), key=lambda p: ("__test-" not in p.name, p.name))
    return {p.stem: pd.read_csv(p) for p in paths}


def _cell(metric: Metric, row: pd.Series, with_std: bool = False) -> str:
    """A row's value of a metric at its precision, with its std for subject metrics; '-' where missing."""
    text = fmt(metric, row.get(metric.name))
    std = row.get(f"{metric.name}_std")
    text = text if text == "-" or not with_std or pd.isna(std) else f"{text} ± {fmt(metric, std)}"
    return text + all_flagged(metric, row) if text != "-" else text


def _external(row: pd.Series) -> str:
    return f" (external: trained on {row['trained_on']})" if row.get("kind") == "external" else ""


def _evidence(row: pd.Series) -> str:
    """A link to the row's evidence folder, or why it has none."""
    evidence = row.get("evidence")
    if not isinstance(evidence, str) or not evidence:
        return "-"
    return "unverifiable" if evidence.startswith("unverifiable") else f"[{evidence.split('__')[-1]}]({evidence})"


def table(frame: pd.DataFrame, by_test: bool = False) -> str:
    """A Markdown table of leaderboard rows (newest first); a test's table also names each row's recipe and
    shows its budget, and ends with the seed paper's published rows."""
    metrics = metric_table(group="headline") + (metric_table(group="reloaded") if by_test else [])
    budget = [(name, label) for name, label, _ in BUDGET if name in SHOWN_BUDGET] if by_test else []
    head = ["date", "model", *(["recipe"] if by_test else []), *(m.label for m in metrics)]
    head += [label for _, label in budget] + ["folds", "epochs", "device", "commit", "evidence"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for _, r in frame.iloc[::-1].iterrows():
        cells = [str(r["date"])[:10], f"{r['model']}{_external(r)}"]
        cells += [f"`{r['protocol']}` ({str(r.get('recipe_hash', ''))[:8]})"] if by_test else []
        cells += [_cell(m, r, with_std=m.level == "subject") for m in metrics]
        cells += [fmt_budget(name, r.get(name)) for name, _ in budget]
        cells += [str(r["folds"]), str(r["epochs"]), str(r["device"]), str(r["commit"]), _evidence(r)]
        lines.append("| " + " | ".join(cells) + " |")
    if by_test and on_paper_test(frame.iloc[0].to_dict()):
        lines += [_published_row(r, metrics, len(budget)) for _, r in PUBLISHED.iterrows()]
        lines += [_anchor_row(a, metrics, len(budget)) for _, a in ANCHORS.iterrows()]
    if any(all_flagged(m, r) for _, r in frame.iterrows() for m in metrics):
        lines += ["", ALL_FLAGGED_NOTE]
    return "\n".join(lines)


SHOWN_BUDGET = (
    "train_pflop", "train_hours", "infer_hours", "peak_memory_mb", "still_learning", "threshold_at_edge",
    "lesion_at_edge",
)  # fmt: skip


def _published_row(r: pd.Series, metrics: list[Metric], n_budget: int) -> str:
    """A published row in a test's table: its Dice and Jaccard (the paper prints no spread), nothing else."""
    values = {"dice_paper": r["dice"], "jaccard_paper": r["jaccard"]}
    cells = ["published", f"{r['model']} (published, {r['source']})", "the paper's"]
    cells += ["-" if m.name not in values else fmt(m, values[m.name]) for m in metrics]
    return "| " + " | ".join(cells + ["-"] * n_budget + ["5", "-", "-", "-", "none (published)"]) + " |"


def _anchor_row(a: pd.Series, metrics: list[Metric], n_budget: int) -> str:
    """Another published CT-ICH result in a test's table: its value in the column of its own metric."""
    cells = ["published", f"{a['model']} (published, {a['source']})", f"its own: {a['test']}"]
    cells += [fmt(m, a["value"]) if m.name == a["metric"] else "-" for m in metrics]
    return "| " + " | ".join(cells + ["-"] * n_budget + ["5", "-", "-", "-", "none (published)"]) + " |"


def render(directory: Path) -> str:
    """leaderboards/README.md: every table, with the seed paper's published rows beside the paper protocol."""
    boards = read(directory)
    parts = [
        "# ichbench leaderboards",
        "",
        "Rendered from the CSV files in this folder by `ichbench` after every run; do not edit by hand. Rows are",
        "never rewritten. Metric definitions: `docs/metrics.md`; what each table is: the notes at the end.",
        "",
        *(f"- [{_title(f)}](#{_anchor(s)}): {len(f)} rows" for s, f in boards.items()),
        "",
    ]
    for stem, frame in boards.items():
        first, by_test = frame.iloc[0], _by_test(frame)
        parts += [f'<a id="{_anchor(stem)}"></a>', "", f"## {_title(frame)}", ""]
        parts += [f"Source: `{stem}.csv`. Data-set fingerprint `{str(first['dataset_fingerprint'])[:16]}`.", ""]
        if by_test:
            parts += [TEST_INTRO, ""]
        report = Path(directory) / "reports" / stem / "report.html"
        if report.exists():
            parts += [
                f"Report of the newest committed run: [reports/{stem}/report.html](reports/{stem}/report.html) "
                f"([Markdown](reports/{stem}/report.md)).",
                "",
            ]
        key = ["model", "recipe_hash"] if by_test else "model"
        latest = frame.drop_duplicates(key, keep="last").sort_values("dice_paper", ascending=False)
        parts += ["Latest row per model (best Dice first):", "", table(latest.iloc[::-1], by_test), ""]
        if by_test:
            parts += _budget_figure(Path(directory), stem, latest)
        if len(frame) > len(latest):
            parts += [
                f"<details><summary>History: all {len(frame)} rows, newest first</summary>",
                "",
                table(frame, by_test),
                "",
                "</details>",
                "",
            ]
        if first["protocol"] == "paper" and not by_test:
            parts += _published_section(frame)
    notes = Path(directory) / "NOTES.md"  # hand-written context (hash changes, what a table is)
    if notes.exists():
        parts += ["## Notes", "", notes.read_text().strip(), ""]
    return "\n".join(parts) + "\n"


TEST_INTRO = (
    "One test, several recipes: every row here is scored by the same test (data set, exclusions, folds, "
    "native-resolution scoring, metrics, detection rule), whatever recipe trained it (its name and hash in "
    "`recipe`). The budget columns say what a row cost (docs/leaderboard.md). Under the paper's test the seed "
    "paper's Table 9 rows close the table, marked published: means only, without spread or evidence (their "
    "slice detection follows the original code's rule, so it is not set beside ours), then other published "
    "CT-ICH results in the column of their own metric, with how their test differs; the report of this "
    "table tests every model against the published U-Net."
)


def _by_test(frame: pd.DataFrame) -> bool:
    """A table keyed by a test (recipes of one test side by side) rather than by one protocol."""
    return "test_hash" in frame and frame["test_hash"].notna().any() and bool(str(frame["test_hash"].iloc[0]))


def _title(frame: pd.DataFrame) -> str:
    first = frame.iloc[0]
    if _by_test(frame):
        recipes = ", ".join(f"`{name}`" for name in dict.fromkeys(frame["protocol"]))
        return f"{first['dataset']} / test {first['test_hash']} (recipes {recipes})"
    return f"{first['dataset']} / protocol `{first['protocol']}` ({first['protocol_hash']})"


def _budget_figure(directory: Path, stem: str, latest: pd.DataFrame) -> list[str]:
    """`<stem>.budget.png` beside the table (Dice against training PFLOP), and the line that shows it."""
    from ichbench.leaderboard.figure import budget

    rows = latest.assign(label=latest["model"] + " (" + recipe_labels(latest) + ")")
    published = {REFERENCE: published_dice()} if on_paper_test(latest.iloc[0].to_dict()) else None
    data = budget(rows, published)
    if data is None:
        return []
    atomic_write_bytes(directory / f"{stem}.budget.png", data)
    return [f"![Dice against training compute, the Pareto front in red]({stem}.budget.png)", ""]


def _anchor(stem: str) -> str:
    return "table-" + stem.replace(".", "-").replace("_", "-")


def _published_section(frame: pd.DataFrame) -> list[str]:
    lines = [
        "Published in the seed paper (Table 9 and section 5; CT-ICH, 5-fold CV), for comparison:",
        "",
        "| model (published) | Dice | Jaccard | sensitivity | specificity | where |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for _, r in PUBLISHED.iterrows():
        cells = ["-" if math.isnan(r[c]) else f"{r[c]:g}" for c in ("dice", "jaccard", "sensitivity", "specificity")]
        lines.append(f"| {r['model']} | " + " | ".join([*cells, r["source"]]) + " |")  # as printed in the paper
    fixed, band = (
        frame[frame["model"] == "threshold-fixed"],
        PUBLISHED.set_index("model").loc[PUBLISHED_NAMES["threshold-fixed"]],
    )
    if len(fixed):
        last = fixed.iloc[-1]
        lines += [
            "",
            f"The paper's first experiment, the fixed band 140-230 (`threshold-fixed`): Dice {last['dice_paper']:.3f}, "
            f"Jaccard {last['jaccard_paper']:.3f} here against the published {band['dice']:g} / {band['jaccard']:g} "
            f"({band['source']}; mean only).",
        ]
    if "sensitivity_original" in frame.columns and frame["sensitivity_original"].notna().any():
        lines += ["", *_detection_rules(frame)]
    return lines + [""]


def _detection_rules(frame: pd.DataFrame) -> list[str]:
    """Our detection under both rules beside the published sensitivity/specificity, and why they differ."""
    latest = frame[frame["sensitivity_original"].notna()].drop_duplicates("model", keep="last")
    n = load_protocol("paper").metrics.detection_pixels
    lines = [
        f"Slice detection, {n}-pixel rule. The published sensitivity/specificity come from the original code, "
        "which compared its 0/255 ground truth and 0/1 predictions with the same pixel count, so a ground-truth "
        f"slice counted as positive from {original_truth_pixels(n)} pixels while a prediction needed {n + 1}; "
        f"the `_original` columns reproduce that rule, the headline columns apply {n} pixels to both:",
        "",
        "| model | sens. (one rule) | spec. (one rule) | sens. (original rule) | spec. (original rule) |",
        "| --- | --- | --- | --- | --- |",
    ]
    names = ("sensitivity", "specificity", "sensitivity_original", "specificity_original")
    chosen = [m for m in metric_table() if m.name in names]
    for _, r in latest.iterrows():
        lines.append(f"| {r['model']} | " + " | ".join(_cell(m, r) for m in chosen) + " |")
    return lines
