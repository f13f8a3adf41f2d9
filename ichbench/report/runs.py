"""Reading finished run directories for the report."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ichbench.data.dataset import Dataset
from ichbench.errors import RunError
from ichbench.leaderboard.cells import recipe_labels
from ichbench.protocol import Protocol, load_protocol
from ichbench.rundir import PROTOCOL, RUN_JSON, SUMMARY, JobDir, job_dirs, read_result


@dataclass
class Runs:
    """One or more finished runs over the same data set and protocol, merged."""

    meta: dict
    protocol: Protocol
    models: list[str]  # labels: the model's name, or "model @ recipe" where one model ran under several recipes
    sources: dict[str, tuple[Path, str]]  # label -> (its run directory, the model's name there)
    per_subject: pd.DataFrame
    per_slice: pd.DataFrame
    history: pd.DataFrame
    curves: pd.DataFrame
    summary: pd.DataFrame  # summary.csv rows, one per model: the budget columns come from here
    ladders: dict[str, list[str]]  # model -> its labels in the order the runs were given, where it has several

    def jobs(self, label: str) -> list[JobDir]:
        """Every job folder (fold, seed, path) of a labelled model, in (seed, fold) order."""
        root, model = self.sources[label]
        return job_dirs(root, model)


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise RunError(f"{path}: missing; is this a finished run directory?")
    try:
        return pd.read_csv(path, dtype={"subject": str})
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def load_runs(dirs: list[Path]) -> Runs:
    """Merge run directories; they must share the data set and the test (or, for protocols scored at their
    training scale, the protocol). A model in several runs of different recipes is a ladder: each of its
    rows is labelled "model @ recipe", in the order the runs are given."""
    dirs = [Path(d) for d in dirs]
    metas = [_meta(d) for d in dirs]
    models = [list(_read_csv(d / SUMMARY)["model"]) for d in dirs]
    _same_test(metas, dirs)
    labels = _labels(metas, models, dirs)
    parts: dict[str, list[pd.DataFrame]] = {"per_subject": [], "per_slice": [], "history": [], "summary": []}
    sources: dict[str, tuple[Path, str]] = {}
    ladders: dict[str, list[str]] = {}
    curves = []
    for d, names, label in zip(dirs, models, labels):
        for name in parts:
            frame = _read_csv(d / f"{name}.csv")
            parts[name].append(frame.assign(model=frame["model"].map(label)) if "model" in frame else frame)
        for model in names:
            sources[label[model]] = (d, model)
            ladders.setdefault(model, []).append(label[model])
            curves += _curves(d, model, label[model])
    return Runs(
        meta=metas[0],
        protocol=load_protocol(dirs[0] / PROTOCOL),
        models=list(sources),
        sources=sources,
        curves=pd.DataFrame(curves),
        ladders={m: rungs for m, rungs in ladders.items() if len(rungs) > 1},
        **{k: pd.concat(v, ignore_index=True) for k, v in parts.items()},
    )


def _curves(run_dir: Path, model: str, label: str) -> list[dict]:
    """The validation threshold curve of every finished job of a model (each seed's too), one row a point."""
    rows = []
    for job in job_dirs(run_dir, model):
        result = read_result(job.path)
        seed = {} if job.seed is None else {"seed": job.seed}
        rows += [{"model": label, "fold": job.fold, **seed, **c} for c in (result.threshold_curve if result else [])]
    return rows


def _meta(d: Path) -> dict:
    if not (d / RUN_JSON).exists():
        raise RunError(f"{d}: not a run directory (no {RUN_JSON})")
    return json.loads((d / RUN_JSON).read_text())


def _same_test(metas: list[dict], dirs: list[Path]) -> None:
    """Recipes of one test compare (their rows share a leaderboard table); otherwise one protocol."""
    first = metas[0]
    key = "test_hash" if first.get("test_hash") else "protocol_hash"
    for meta, d in zip(metas[1:], dirs[1:]):
        for name in ("dataset_fingerprint", key):
            if meta.get(name) != first.get(name):
                raise RunError(
                    f"{d}: {name} differs from {dirs[0]}; a report compares runs of one data set and "
                    f"{'test' if key == 'test_hash' else 'protocol'}"
                )


def _labels(metas: list[dict], models: list[list[str]], dirs: list[Path]) -> list[dict[str, str]]:
    """Per run, model -> label: the name alone, or "name @ recipe" for a model that several runs hold."""
    count = Counter(m for names in models for m in names)
    recipes = recipe_labels(
        pd.DataFrame([{k: str(m.get(k, "")) for k in ("protocol", "protocol_hash")} for m in metas])
    )
    labels, seen = [], {}
    for meta, names, d, recipe in zip(metas, models, dirs, recipes):
        label = {m: f"{m} @ {recipe}" if count[m] > 1 else m for m in names}
        for model, text in label.items():
            if text in seen:
                raise RunError(f"model {model!r} appears in both {seen[text]} and {d} under one recipe name")
            if count[model] > 1 and not meta.get("test_hash"):
                raise RunError(
                    f"{d}: model {model!r} is in another run too; runs scored at their training scale "
                    "compare one protocol and cannot form a ladder"
                )
            seen[text] = d
        labels.append(label)
    return labels


def load_run_dataset(runs: Runs) -> Dataset | None:
    """The data set the runs used, for overlays; None when its folder is gone."""
    from ichbench.data.protocol_data import protocol_dataset

    data = runs.meta.get("data")
    if data is None:
        return protocol_dataset(runs.protocol) if runs.meta.get("dataset") == "phantom" else None
    return protocol_dataset(runs.protocol, Path(data)) if Path(data).exists() else None
