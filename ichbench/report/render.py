"""`ichbench report`: one self-contained HTML page (and a Markdown version) for finished runs."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import pandas as pd

from ichbench.atomic import atomic_write_bytes, atomic_write_text
from ichbench.evaluation.metrics import names, summarize
from ichbench.leaderboard import PUBLISHED
from ichbench.report import document, overlays, plots, stats
from ichbench.report.runs import Runs, load_run_dataset, load_runs
from ichbench.runlock import hold


def build_report(run_dirs: list[Path], out: Path, dpi: int = 90) -> Path:
    """Write out/report.html (self-contained), out/report.md and its images; returns the HTML path."""
    with hold(out), matplotlib.rc_context({"savefig.dpi": dpi, **plots.STYLE}):
        return _build(load_runs(run_dirs), out)


def _build(runs: Runs, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    min_px = runs.protocol.metrics.detection_pixels
    results = _results_table(runs, min_px)
    pvalues = stats.wilcoxon_matrix(runs.per_subject)
    figures = {
        "forest": (
            "Who wins: Dice per subject (paper definition) with 95% bootstrap intervals",
            plots.forest(results, _published(runs)),
        ),
        **_figures(runs, min_px),
    }
    html_text = document.html_page(runs, results, pvalues, figures)
    atomic_write_text(out / "report.html", html_text)
    images = out / "images"
    images.mkdir(exist_ok=True)
    for name, (_, data) in figures.items():
        atomic_write_bytes(images / f"{name}.png", data)
    atomic_write_text(out / "report.md", document.markdown_page(runs, results, pvalues, figures))
    return out / "report.html"


PUBLISHED_NAMES = {
    "unet": "U-Net",
    "unetplusplus": "U-Net++",
    "resunet": "ResUNet",
    "linknet": "LinkNet",
    "threshold-fixed": "threshold (140-230)",
}


def _published(runs: Runs) -> dict[str, float] | None:
    """Table 9's Dice by our model names, only where our protocol is the paper's (else no marks)."""
    if not runs.meta["protocol"].startswith("paper"):
        return None
    dice = dict(zip(PUBLISHED["model"], PUBLISHED["dice"]))
    return {ours: dice[theirs] for ours, theirs in PUBLISHED_NAMES.items() if theirs in dice}


def _results_table(runs: Runs, min_px: int) -> pd.DataFrame:
    rows = []
    for model in runs.models:
        subj = runs.per_subject[runs.per_subject.model == model]
        sl = runs.per_slice[runs.per_slice.model == model]
        cis = stats.metric_cis(subj, sl, min_px)
        means = summarize(sl, subj, min_px)  # the point estimates: the same definitions as every run
        row = {"model": model}
        for name in names():
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
            "learning",
            "Training loss and validation score per epoch (mean over folds)",
            plots.learning_curves(runs.history, runs.models),
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
    if not any(overlays.has_predictions(runs.run_of[m], m) for m in runs.models):
        dataset = None  # no masks to draw: the page says so (document.NO_CASES) rather than draw truth alone
    if dataset is not None:
        summary = {m: runs.per_subject[runs.per_subject.model == m]["dice_paper"].mean() for m in runs.models}
        reference = max(summary, key=lambda m: -1 if math.isnan(summary[m]) else summary[m])
        for i, case in enumerate(overlays.choose_cases(runs.per_slice, reference, min_px)):
            figs[f"case{i}"] = (
                f"Subject {case.subject}, slice {case.slice}: {case.label}",
                overlays.render_case(case, dataset, runs.run_of, runs.models),
            )
    return figs
