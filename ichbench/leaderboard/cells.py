"""The provenance cells of a row, from its jobs' results: commits, a clean tree, devices with threads, precision."""

from __future__ import annotations

import pandas as pd

from ichbench.rundir import JobResult


def cell_text(value: object) -> str:
    """A leaderboard cell as text: '' for a missing (None or NaN) cell."""
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def job_codes(results: list[JobResult]) -> list[tuple[str, dict | None]]:
    """(role, code record) of a model's jobs in order: "trained" and "scored" for a job that scored another
    run's weights (--weights-from), else "" (the job trained and scored)."""
    codes: list[tuple[str, dict | None]] = []
    for r in results:
        if r.weights_from:
            codes += [("trained", r.weights_from.get("code")), ("scored", r.code)]
        else:
            codes.append(("", r.code))
    return codes


def code_cells(results: list[JobResult]) -> dict[str, str]:
    """The row's `commits` and `code_clean` from its jobs' code records (environment.CodeState.record):
    every commit in order, ';'-separated, each named "trained" or "scored" where another run's weights were
    scored, and whether every tree was clean ('yes' or 'no'); both '' when a job predates the records."""
    codes = job_codes(results)
    if not codes or any(c is None for _, c in codes):
        return {"commits": "", "code_clean": ""}
    named = [f"{role} {c['commit']}" if role else c["commit"] for role, c in codes]
    return {
        "commits": ";".join(dict.fromkeys(named)),
        "code_clean": "yes" if all(c["clean"] for _, c in codes) else "no",
    }


def commit_labels(commits: str) -> list[str]:
    """The bare commit labels of a commits cell (without "trained " or "scored ")."""
    return [c.split(" ")[-1] for c in commits.split(";") if c]


def device_cell(results: list[JobResult]) -> str:
    """Each distinct device the jobs ran on, with the torch threads a job had where it recorded them
    (' + '-joined, in order); '' when a job predates device names."""
    if not results or not all(r.device_name for r in results):
        return ""
    named = [
        r.device_name + ("" if r.threads is None else f", {r.threads} thread{'s' * (r.threads != 1)}") for r in results
    ]
    return " + ".join(dict.fromkeys(named))


def precision_cell(results: list[JobResult]) -> str:
    """Each distinct precision the jobs trained in (' + '-joined); '' when a job predates the record."""
    if not results or not all(r.training_precision for r in results):
        return ""
    return " + ".join(dict.fromkeys(r.training_precision for r in results))


def recipe_labels(rows: pd.DataFrame) -> pd.Series:
    """Each row's recipe as a label: its protocol's name, with the protocol hash's first 8 digits where rows of
    one name have several hashes (`cpu`, and `cpu` with [cv] seeds)."""
    clash = rows.groupby("protocol")["protocol_hash"].transform("nunique") > 1
    return rows["protocol"].where(~clash, rows["protocol"] + "-" + rows["protocol_hash"].astype(str).str[:8])
