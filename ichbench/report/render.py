"""`ichbench report`: one self-contained HTML page (and a Markdown version) for finished runs."""

from __future__ import annotations

import base64
import html
import math
from datetime import UTC, datetime
from pathlib import Path

import matplotlib
import pandas as pd

from ichbench.atomic import atomic_write_bytes, atomic_write_text
from ichbench.evaluation.metrics import METRICS, summarize
from ichbench.leaderboard import PUBLISHED
from ichbench.report import overlays, plots, stats
from ichbench.report.runs import Runs, load_run_dataset, load_runs

STYLE = """body{font-family:system-ui,sans-serif;max-width:1150px;margin:1.5em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:13px;margin:.6em 0}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
th:first-child,td:first-child{text-align:left}h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
img{max-width:100%;display:block;margin:.4em 0}.meta{color:#555;font-size:14px}.ci{color:#777;font-size:11px}"""


def build_report(run_dirs: list[Path], out: Path, dpi: int = 90) -> Path:
    """Write out/report.html (self-contained), out/report.md and its images; returns the HTML path."""
    with matplotlib.rc_context({"savefig.dpi": dpi}):
        return _build(load_runs(run_dirs), out)


def _build(runs: Runs, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    min_px = runs.protocol.metrics.detection_pixels
    results = _results_table(runs, min_px)
    pvalues = stats.wilcoxon_matrix(runs.per_subject)
    figures = _figures(runs, min_px)
    html_text = _html(runs, results, pvalues, figures)
    atomic_write_text(out / "report.html", html_text)
    images = out / "images"
    images.mkdir(exist_ok=True)
    for name, (_, data) in figures.items():
        atomic_write_bytes(images / f"{name}.png", data)
    atomic_write_text(out / "report.md", _markdown(runs, results, pvalues, figures))
    return out / "report.html"


def _results_table(runs: Runs, min_px: int) -> pd.DataFrame:
    rows = []
    for model in runs.models:
        subj = runs.per_subject[runs.per_subject.model == model]
        sl = runs.per_slice[runs.per_slice.model == model]
        cis = stats.metric_cis(subj, sl, min_px)
        means = summarize(sl, subj, min_px)  # the point estimates: the same definitions as every run
        row = {"model": model}
        for name in METRICS:
            row[name] = means[name]
            row[f"{name}_ci"] = cis[name]
        rows.append(row)
    return pd.DataFrame(rows)


def _figures(runs: Runs, min_px: int) -> dict[str, tuple[str, bytes]]:
    figs: dict[str, tuple[str, bytes]] = {
        "subject_dice": (
            "Per-subject Dice (paper definition), subjects with hemorrhage",
            plots.subject_dice(runs.per_subject, runs.models),
        ),
    }
    for key, title, data in (
        (
            "loss",
            "Training (solid) and validation (dashed) loss per fold",
            plots.loss_curves(runs.history, runs.models),
        ),
        (
            "threshold",
            "Dice against threshold on the validation subjects (mean over folds)",
            plots.threshold_curves(runs.curves, runs.models),
        ),
    ):
        if data is not None:
            figs[key] = (title, data)
    figs["subtypes"] = (
        "Slice-level Dice and detection sensitivity by subtype",
        plots.subtype_breakdown(runs.per_slice, runs.models, min_px)[0],
    )
    dataset = load_run_dataset(runs)
    if dataset is not None:
        summary = {m: runs.per_subject[runs.per_subject.model == m]["dice_paper"].mean() for m in runs.models}
        reference = max(summary, key=lambda m: -1 if math.isnan(summary[m]) else summary[m])
        for i, case in enumerate(overlays.choose_cases(runs.per_slice, reference, min_px)):
            figs[f"case{i}"] = (
                f"Subject {case.subject}, slice {case.slice}: {case.label}",
                overlays.render_case(case, dataset, runs.run_of, runs.models),
            )
    return figs


def _cell(value: float, ci: tuple[float, float] | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    text = f"{value:.3f}"
    if ci is not None and not math.isnan(ci[0]):
        text += f" <span class='ci'>[{ci[0]:.3f}, {ci[1]:.3f}]</span>"
    return text


def _header(runs: Runs) -> list[str]:
    m = runs.meta
    return [
        f"Protocol <b>{html.escape(m['protocol'])}</b> (hash {m['protocol_hash']}), data set "
        f"<b>{html.escape(m['dataset'])}</b> (fingerprint {m['dataset_fingerprint'][:16]}), device "
        f"{html.escape(m.get('device_name', m.get('device', '?')))}, ichbench {m.get('ichbench', '?')}, torch "
        f"{m.get('torch', '?')}.",
        *_attribution(m),
        f"Run started {m.get('created', '?')}; report written {datetime.now(UTC).isoformat(timespec='seconds')}.",
    ]


def _attribution(meta: dict) -> list[str]:
    if not str(meta.get("dataset", "")).startswith("ctich"):
        return []
    return ["Data: CT-ICH (Hssayeni et al., PhysioNet, doi:10.13026/w8q8-ky94), CC BY 4.0; slices shown downscaled."]


def _html(runs: Runs, results: pd.DataFrame, pvalues: pd.DataFrame, figures: dict) -> str:
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>ichbench report: {html.escape(runs.meta['dataset'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>ichbench report: {html.escape(runs.meta['dataset'])} / {html.escape(runs.meta['protocol'])}</h1>",
    ]
    parts += [f"<p class='meta'>{line}</p>" for line in _header(runs)]
    parts.append(
        "<h2>Results</h2><p>Means with 95% bootstrap confidence intervals (2,000 resamples of whole "
        "subjects, percentile method). Metric definitions: see the ichbench README.</p>"
    )
    head = "".join(f"<th>{html.escape(n)}</th>" for n in ["model", *METRICS])
    body = "".join(
        "<tr>"
        + f"<td>{html.escape(r['model'])}</td>"
        + "".join(f"<td>{_cell(r[n], r[f'{n}_ci'])}</td>" for n in METRICS)
        + "</tr>"
        for _, r in results.iterrows()
    )
    parts.append(f"<table id='results'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    parts.append(
        "<h3>Published in the seed paper (CT-ICH, 5-fold CV)</h3>"
        + PUBLISHED.to_html(index=False, na_rep="-", border=0, table_id="published")
    )
    parts.append("<h2>Paired Wilcoxon signed-rank tests</h2><p>Per-subject Dice, Holm-adjusted p-values.</p>")
    parts.append(pvalues.to_html(na_rep="-", float_format=lambda v: f"{v:.3g}", border=0, table_id="wilcoxon"))
    for name, (title, data) in figures.items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode()
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{name}' src='{uri}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _markdown(runs: Runs, results: pd.DataFrame, pvalues: pd.DataFrame, figures: dict) -> str:
    lines = [f"# ichbench report: {runs.meta['dataset']} / {runs.meta['protocol']}", ""]
    lines += [html.unescape(line.replace("<b>", "**").replace("</b>", "**")) for line in _header(runs)] + [""]
    lines += [
        "## Results (95% bootstrap CIs over subjects)",
        "",
        "| model | " + " | ".join(METRICS) + " |",
        "|" + " --- |" * (len(METRICS) + 1),
    ]
    for _, r in results.iterrows():
        cells = [_cell(r[n], r[f"{n}_ci"]).replace("<span class='ci'>", "").replace("</span>", "") for n in METRICS]
        lines.append(f"| {r['model']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Paired Wilcoxon (Holm-adjusted p-values)",
        "",
        "| | " + " | ".join(pvalues.columns) + " |",
        "|" + " --- |" * (len(pvalues.columns) + 1),
    ]
    for name, row in pvalues.iterrows():
        lines.append(f"| {name} | " + " | ".join("-" if math.isnan(v) else f"{v:.3g}" for v in row) + " |")
    lines.append("")
    for name, (title, _) in figures.items():
        lines += [f"## {title}", "", f"![{name}](images/{name}.png)", ""]
    return "\n".join(lines)
