"""Reading finished run directories for the report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ichbench.data.dataset import Dataset
from ichbench.errors import RunError
from ichbench.protocol import Protocol, load_protocol


@dataclass
class Runs:
    """One or more finished runs over the same data set and protocol, merged."""

    meta: dict
    protocol: Protocol
    models: list[str]
    run_of: dict[str, Path]
    per_subject: pd.DataFrame
    per_slice: pd.DataFrame
    history: pd.DataFrame
    curves: pd.DataFrame
    summary: pd.DataFrame  # summary.csv rows, one per model: the budget columns come from here


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise RunError(f"{path}: missing; is this a finished run directory?")
    try:
        return pd.read_csv(path, dtype={"subject": str})
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def load_runs(dirs: list[Path]) -> Runs:
    """Merge run directories; they must share the data set and the test (or, for protocols scored at their
    training scale, the protocol), and not repeat a model."""
    metas, parts = [], {"per_subject": [], "per_slice": [], "history": [], "summary": []}
    run_of: dict[str, Path] = {}
    curves = []
    for d in map(Path, dirs):
        if not (d / "run.json").exists():
            raise RunError(f"{d}: not a run directory (no run.json)")
        meta = json.loads((d / "run.json").read_text())
        metas.append(meta)
        for name in parts:
            parts[name].append(_read_csv(d / f"{name}.csv"))
        for model in _read_csv(d / "summary.csv")["model"]:
            if model in run_of:
                raise RunError(f"model {model!r} appears in both {run_of[model]} and {d}")
            run_of[model] = d
            for result in sorted((d / "jobs" / model).glob("fold*/result.json")):
                doc = json.loads(result.read_text())
                curves += [{"model": model, "fold": doc["fold"], **c} for c in doc.get("threshold_curve", [])]
    first = metas[0]
    for meta, d in zip(metas[1:], dirs[1:]):
        # Recipes of one test compare (their rows share a leaderboard table); otherwise one protocol.
        key = "test_hash" if first.get("test_hash") else "protocol_hash"
        for name in ("dataset_fingerprint", key):
            if meta.get(name) != first.get(name):
                raise RunError(
                    f"{d}: {name} differs from {dirs[0]}; a report compares runs of one data set and "
                    f"{'test' if key == 'test_hash' else 'protocol'}"
                )
    merged = {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}
    return Runs(
        meta=first,
        protocol=load_protocol(Path(dirs[0]) / "protocol.toml"),
        models=list(run_of),
        run_of=run_of,
        curves=pd.DataFrame(curves),
        **merged,
    )


def load_run_dataset(runs: Runs) -> Dataset | None:
    """The data set the runs used, for overlays; None when its folder is gone."""
    from ichbench.data.protocol_data import protocol_dataset

    data = runs.meta.get("data")
    if data is None:
        return protocol_dataset(runs.protocol) if runs.meta.get("dataset") == "phantom" else None
    return protocol_dataset(runs.protocol, Path(data)) if Path(data).exists() else None
