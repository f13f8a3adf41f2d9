"""The report's text: one self-contained HTML page and its Markdown twin."""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from ichbench.evaluation.metrics import ALL_FLAGGED_NOTE, Metric, all_flagged, fmt, table
from ichbench.evaluation.published import PUBLISHED, on_paper_test
from ichbench.report.overlays import COLUMNS
from ichbench.report.runs import Runs
from ichbench.rundir import PREDICTIONS

STYLE = """body{font-family:system-ui,sans-serif;max-width:1150px;margin:1.5em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:14px;margin:.6em 0}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
th:first-child,td:first-child{text-align:left}h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
img{max-width:100%;display:block;margin:.4em 0}.meta{color:#555;font-size:15px}.ci{color:#666;font-size:12px}
details{margin:.8em 0}summary{cursor:pointer;font-weight:600}"""


@dataclass
class Section:
    """A table of the report with a heading and a paragraph above it."""

    id: str
    title: str
    intro: str
    frame: pd.DataFrame

    def html(self) -> str:
        """The section as HTML."""
        table = self.frame.to_html(index=False, na_rep="-", float_format=lambda v: f"{v:.3g}", border=0)
        return f"<h2 id='{self.id}'>{html.escape(self.title)}</h2><p>{html.escape(self.intro)}</p>{table}"

    def markdown(self) -> list[str]:
        """The section as Markdown lines."""
        head = [str(c) for c in self.frame.columns]
        lines = [f"## {self.title}", "", self.intro, "", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        for _, row in self.frame.iterrows():
            lines.append("| " + " | ".join(_plain(v) for v in row) + " |")
        return lines + [""]


def _plain(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.3g}"
    return str(value)


def cell(metric: Metric, value: float, ci: tuple[float, float] | None = None) -> str:
    """A value with its CI in small print, at the metric's precision; '-' for NaN."""
    text = fmt(metric, value)
    if text != "-" and ci is not None and not math.isnan(ci[0]):
        text += f" <span class='ci'>[{fmt(metric, ci[0])}, {fmt(metric, ci[1])}]</span>"
    return text


WILCOXON = (
    "Per-subject Dice of the subjects with hemorrhage that both models scored, two-sided Wilcoxon signed-rank "
    "test (scipy.stats.wilcoxon) by one method for every pair: the normal approximation with continuity "
    "correction, zero differences dropped; Holm-adjusted over all pairs."
)
NO_CASES = (
    f"No case figures: they draw each model's predicted masks, which a run saves per job ({PREDICTIONS}) and "
    "evidence folders do not keep. Make the report from the run directories to see them."
)


def header(runs: Runs) -> list[str]:
    """Protocol, data set, device, versions, dates, attribution."""
    m = runs.meta
    lines = [
        f"Protocol <b>{html.escape(m['protocol'])}</b> (hash {m['protocol_hash']}), data set "
        f"<b>{html.escape(m['dataset'])}</b> (fingerprint {m['dataset_fingerprint'][:16]}), device "
        f"{html.escape(m.get('device_name', m.get('device', '?')))}, ichbench {m.get('ichbench', '?')}, torch "
        f"{m.get('torch', '?')}.",
    ]
    if str(m.get("dataset", "")).startswith("ctich"):
        lines.append(
            "Data: CT-ICH (Hssayeni et al., PhysioNet, doi:10.13026/w8q8-ky94), CC BY 4.0; slices shown downscaled."
        )
    lines.append(
        f"Run started {m.get('created', '?')}; report written {datetime.now(UTC).isoformat(timespec='seconds')}."
    )
    return lines


def _table(results: pd.DataFrame, metrics: list[Metric], table_id: str) -> str:
    head = "".join(f"<th title='{html.escape(m.doc)}'>{html.escape(m.label)}</th>" for m in metrics)
    head = f"<th>model</th>{head}"
    body = "".join(
        "<tr>"
        + f"<td>{html.escape(r['model'])}</td>"
        + "".join(f"<td>{cell(m, r[m.name], r[f'{m.name}_ci'])}{all_flagged(m, r)}</td>" for m in metrics)
        + "</tr>"
        for _, r in results.iterrows()
    )
    note = any(all_flagged(m, r) for _, r in results.iterrows() for m in metrics)
    table_html = f"<table id='{table_id}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return table_html + (f"<p class='ci'>{html.escape(ALL_FLAGGED_NOTE)}</p>" if note else "")


def _img(name: str, title: str, data: bytes) -> str:
    uri = "data:image/png;base64," + base64.b64encode(data).decode()
    panels = f" data-panels='{COLUMNS}'" if name.startswith("case") else ""
    return f"<h2>{html.escape(title)}</h2><img alt='{name}' class='figure'{panels} src='{uri}'>"


def subject_table(runs: Runs) -> pd.DataFrame:
    """Per-subject paper Dice of every model (subjects with hemorrhage), with the test fold."""
    sick = runs.per_subject[runs.per_subject["has_hemorrhage"].astype(bool)]
    # Each subject's Dice averaged over its seeds (one value when the run has one seed).
    table = sick.pivot_table(index=["subject", "fold"], columns="model", values="dice_paper", aggfunc="mean")
    return table.reindex(columns=[m for m in runs.models if m in table.columns]).reset_index()


def html_page(
    runs: Runs, results: pd.DataFrame, pvalues: pd.DataFrame, figures: dict, sections: list[Section] = ()
) -> str:
    """The whole page: who wins first, then the tables, figures and the per-subject table."""
    figures = dict(figures)
    forest = figures.pop("forest")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>ichbench report: {html.escape(runs.meta['dataset'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>ichbench report: {html.escape(runs.meta['dataset'])} / {html.escape(runs.meta['protocol'])}</h1>",
        *(f"<p class='meta'>{line}</p>" for line in header(runs)),
        _img("forest", *forest),
        "<p>Red diamonds: the seed paper's published means (Table 9; the fixed band from section 5), "
        "shown only for the paper's protocols.</p>"
        if on_paper_test(runs.meta)
        else "",
        "<h2>Results</h2><p>Means with 95% bootstrap confidence intervals (2,000 resamples of whole "
        "subjects, percentile method). Metric definitions: see the ichbench README.</p>",
        _table(results, table(group="headline"), "results"),
        "<h3>Boundary, volume, lesions and empty cases (Metrics Reloaded)</h3>",
        _table(results, table(group="reloaded"), "reloaded"),
        "<h3>Slice detection by the original code's rule</h3><p>Ground truth positive from 2 pixels (its 0/255 "
        "masks), predictions above the pixel rule: comparable with the published sensitivity and specificity.</p>",
        _table(results, table(group="original"), "original"),
        "<h3>Published in the seed paper (CT-ICH, 5-fold CV)</h3>"
        + PUBLISHED.to_html(index=False, na_rep="-", border=0, table_id="published"),
        f"<h2>Paired Wilcoxon signed-rank tests</h2><p>{WILCOXON}</p>",
        pvalues.to_html(na_rep="-", float_format=lambda v: f"{v:.3g}", border=0, table_id="wilcoxon"),
        *(section.html() for section in sections),
        *(_img(name, title, data) for name, (title, data) in figures.items()),
        "" if any(n.startswith("case") for n in figures) else f"<h2>Cases</h2><p id='no-cases'>{NO_CASES}</p>",
        "<details id='subjects'><summary>Per-subject Dice (paper definition), subjects with hemorrhage</summary>",
        subject_table(runs).to_html(index=False, na_rep="-", float_format=lambda v: f"{v:.3f}", border=0),
        "</details></body></html>",
    ]
    return "\n".join(p for p in parts if p)


def markdown_page(
    runs: Runs, results: pd.DataFrame, pvalues: pd.DataFrame, figures: dict, sections: list[Section] = ()
) -> str:
    """The same content as Markdown, images beside it in images/."""
    lines = [f"# ichbench report: {runs.meta['dataset']} / {runs.meta['protocol']}", ""]
    lines += [html.unescape(line.replace("<b>", "**").replace("</b>", "**")) for line in header(runs)] + [""]
    lines += [
        "## Results (95% bootstrap CIs over subjects)",
        "",
        "| model | " + " | ".join(m.label for m in table()) + " |",
        "|" + " --- |" * (len(table()) + 1),
    ]
    for _, r in results.iterrows():
        cells = [
            cell(m, r[m.name], r[f"{m.name}_ci"]).replace("<span class='ci'>", "").replace("</span>", "")
            + all_flagged(m, r)
            for m in table()
        ]
        lines.append(f"| {r['model']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Paired Wilcoxon (Holm-adjusted p-values)",
        "",
        WILCOXON,
        "",
        "| | " + " | ".join(pvalues.columns) + " |",
        "|" + " --- |" * (len(pvalues.columns) + 1),
    ]
    for name, row in pvalues.iterrows():
        lines.append(f"| {name} | " + " | ".join("-" if math.isnan(v) else f"{v:.3g}" for v in row) + " |")
    lines.append("")
    for section in sections:
        lines += section.markdown()
    for name, (title, _) in figures.items():
        lines += [f"## {title}", "", f"![{name}](images/{name}.png)", ""]
    if not any(n.startswith("case") for n in figures):
        lines += ["## Cases", "", NO_CASES, ""]
    return "\n".join(lines)
