"""`ichbench report`: one self-contained HTML page (and a Markdown version) for finished runs."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

from ichbench.atomic import atomic_write_bytes, atomic_write_text
from ichbench.evaluation.budget import BUDGET, BUDGET_COLUMNS
from ichbench.evaluation.metrics import names
from ichbench.evaluation.published import (
    BEST,
    PUBLISHED,
    PUBLISHED_NAMES,
    REFERENCE,
    on_paper_test,
    published_dice,
)
from ichbench.evaluation.subtypes import subtype_scores, subtype_table
from ichbench.evaluation.summary import seed_average, summarize
from ichbench.leaderboard.figure import STYLE
from ichbench.leaderboard.figure import budget as budget_figure
from ichbench.report import document, overlays, plots, stats
from ichbench.report.ladder import LADDER_TEST, ladder_figure, ladder_table
from ichbench.report.runs import Runs, load_run_dataset, load_runs
from ichbench.runlock import hold


def build_report(run_dirs: list[Path], out: Path, dpi: int = 90) -> Path:
    """Write out/report.html (self-contained), out/report.md and its images; returns the HTML path."""
    with hold(out), matplotlib.rc_context({"savefig.dpi": dpi, **STYLE}):
        return _build(load_runs(run_dirs), out)


def _build(runs: Runs, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    min_px = runs.protocol.metrics.detection_pixels
    results = _results_table(runs, min_px)
    pvalues = stats.wilcoxon_matrix(runs.per_subject)
    types = subtype_scores(runs.per_slice, runs.models, min_px, runs.per_subject)
    figures = {
        "forest": (
            "Who wins: Dice per subject (paper definition) with 95% bootstrap intervals",
            plots.forest(results, _published(runs)),
        ),
        **_figures(runs, min_px, types),
    }
    sections = _sections(runs, results)
    sections += _subtypes(types)
    for model, rungs in runs.ladders.items():
        ladder = ladder_table(runs.per_subject, runs.summary, rungs)
        sections.append(document.Section(f"ladder-{model}", f"Ladder: {model}", LADDER_TEST, ladder))
        figures[f"ladder-{model}"] = (
            f"Ladder of {model}: Dice per rung and its training compute",
            ladder_figure(ladder),
        )
    cost = budget_figure(_budget(runs, results), {REFERENCE: published_dice()} if on_paper_test(runs.meta) else None)
    if cost is not None:
        figures["budget"] = ("Dice against training compute; the Pareto front in red", cost)
    html_text = document.html_page(runs, results, pvalues, figures, sections)
    atomic_write_text(out / "report.html", html_text)
    images = out / "images"
    images.mkdir(exist_ok=True)
    for name, (_, data) in figures.items():
        atomic_write_bytes(images / f"{name}.png", data)
    atomic_write_text(out / "report.md", document.markdown_page(runs, results, pvalues, figures, sections))
    return out / "report.html"


def _published(runs: Runs) -> dict[str, float] | None:
    """Table 9's Dice by our model names, only where our protocol is the paper's (else no marks)."""
    if not on_paper_test(runs.meta):
        return None
    dice = dict(zip(PUBLISHED["model"], PUBLISHED["dice"]))
    return {ours: dice[theirs] for ours, theirs in PUBLISHED_NAMES.items() if theirs in dice}


def _budget(runs: Runs, results: pd.DataFrame) -> pd.DataFrame:
    """Each model's budget columns (summary.csv) beside its Dice; empty for runs from before the budget."""
    if runs.summary.empty or "train_pflop" not in runs.summary:
        return pd.DataFrame(columns=["model", "dice_paper", *BUDGET_COLUMNS])
    extra = ["seeds"] if "seeds" in runs.summary else []  # a row of several seeds is drawn at one seed's cost
    return results[["model", "dice_paper"]].merge(runs.summary[["model", *BUDGET_COLUMNS, *extra]], on="model")


def _fold_hours(history: pd.DataFrame, model: str) -> str:
    """The median and range of a model's per-fold training hours, from the epochs' recorded seconds: what a
    timing claim may quote (one fold's time is not the model's; folds share machines with other work)."""
    mine = history[history["model"] == model] if "seconds" in history else history.iloc[:0]
    if mine.empty:
        return "-"
    hours = mine.groupby("fold")["seconds"].sum().to_numpy(float) / 3600
    return f"{np.median(hours):.2f} [{hours.min():.2f}, {hours.max():.2f}]"


def _sections(runs: Runs, results: pd.DataFrame) -> list[document.Section]:
    """The budget table, and under the paper's test every model against the published U-Net."""
    sections = []
    budget = _budget(runs, results)
    if not budget.empty:
        labels = {name: label for name, label, _ in BUDGET}
        frame = budget.drop(columns="dice_paper").rename(columns=labels)
        frame["fold h: median [range]"] = [_fold_hours(runs.history, m) for m in frame["model"]]
        device = runs.meta.get("device_name", "an unnamed device")
        intro = f"What each model's folds cost, on {device} (docs/leaderboard.md says more): " + "; ".join(
            f"{label}: {doc}" for _, label, doc in BUDGET
        )
        sections.append(document.Section("budget", "Budget", intro, frame))
    for name in dict.fromkeys([REFERENCE, BEST]) if on_paper_test(runs.meta) else []:
        sections.append(_against(runs, name))
    noise = stats.seed_noise(runs.per_subject)
    if not noise.empty:
        intro = (
            "Whether each difference exceeds seed noise: per seed, each model's mean Dice over the subjects with "
            "hemorrhage; the pair's per-seed differences against zero by a two-sided paired t-test over seeds "
            "(scipy.stats.ttest_rel). The paired Wilcoxon tests above see each subject's Dice averaged over seeds."
        )
        sections.append(document.Section("seed-noise", "Against seed noise", intro, noise))
    return sections


def _subtypes(scores: pd.DataFrame) -> list[document.Section]:
    """Dice by hemorrhage type, from the per-slice type labels; lesion sensitivity by type where the runs
    counted lesions by type."""
    intro = (
        "Dice by hemorrhage type: each slice with hemorrhage labelled with the type scores its own Dice (an empty "
        "prediction scores 0), averaged over those slices of every fold (HGI-SAM's per-slice Dice, restricted "
        "to the type; a slice showing several types counts for each). Headings give the distinct test slices "
        "and subjects. Means only: a type seen in a few subjects has no usable interval."
    )
    sections = [document.Section("subtypes", "Dice by hemorrhage type", intro, subtype_table(scores))]
    if scores["lesion_sensitivity"].notna().any():
        intro = (
            "Lesion sensitivity by hemorrhage type: the true lesions (3-D components) that span a slice labelled "
            "with the type, and the share of them any predicted voxel touches. Headings give the true lesions. "
            "Means only; empty for runs from before lesions were counted by type."
        )
        table = subtype_table(scores, "lesion_sensitivity")
        sections.append(document.Section("subtype-lesions", "Lesion sensitivity by hemorrhage type", intro, table))
    return sections


def _against(runs: Runs, name: str) -> document.Section:
    """Every model against one published mean (the reference U-Net; the best published network)."""
    value = published_dice(name)
    versus = stats.against_published(seed_average(runs.per_subject), value)
    best = name != REFERENCE
    why = "the best published network, so a claim to be above every published model is tested here; " if best else ""
    intro = (
        f"Per-subject Dice (subjects with hemorrhage) against the published {name} ({value:g}, Table 9; {why}"
        "a mean without spread): 95% bootstrap interval of each model's mean, two-sided one-sample Wilcoxon "
        f"signed-rank test of Dice - {value:g} over subjects (normal approximation with continuity correction, "
        "zero differences dropped, as for the paired tests), Holm-adjusted over the models."
    )
    if best:
        return document.Section("published-best", f"Against the best published model, {name}", intro, versus)
    return document.Section("published-test", f"Against the published {name}", intro, versus)


def _results_table(runs: Runs, min_px: int) -> pd.DataFrame:
    rows = []
    for model in runs.models:
        subj = seed_average(runs.per_subject[runs.per_subject.model == model])  # one value per subject
        sl = runs.per_slice[runs.per_slice.model == model]
        cis = stats.metric_cis(subj, sl, min_px)
        means = summarize(sl, subj, min_px)  # the point estimates: the same definitions as every run
        row = {"model": model}
        for name in names():
            row[name] = means[name]
            row[f"{name}_ci"] = cis[name]
        rows.append(row)
    return pd.DataFrame(rows)


def _figures(runs: Runs, min_px: int, types: pd.DataFrame) -> dict[str, tuple[str, bytes]]:
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
        (
            "volumes",
            "Volume agreement (Bland-Altman): predicted - true hemorrhage volume per subject, limits of agreement",
            plots.bland_altman(runs.per_subject, runs.models),
        ),
    ):
        if data is not None:
            figs[key] = (title, data)
    figs["subtypes"] = (
        "Slice-level Dice and detection sensitivity by hemorrhage type",
        plots.subtype_breakdown(types, runs.models),
    )
    jobs = {m: runs.jobs(m) for m in runs.models}
    # No masks to draw (evidence keeps counts only): the page says so (document.NO_CASES) rather than draw
    # truth alone, and the data set is not read.
    dataset = load_run_dataset(runs) if any(overlays.has_predictions(j) for j in jobs.values()) else None
    if dataset is not None:
        summary = {m: runs.per_subject[runs.per_subject.model == m]["dice_paper"].mean() for m in runs.models}
        reference = max(summary, key=lambda m: -1 if math.isnan(summary[m]) else summary[m])
        for i, case in enumerate(overlays.choose_cases(runs.per_slice, reference, min_px)):
            figs[f"case{i}"] = (
                f"Subject {case.subject}, slice {case.slice}: {case.label}",
                overlays.render_case(case, dataset, jobs),
            )
    return figs
