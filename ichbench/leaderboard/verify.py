"""`ichbench leaderboard verify` and `attach`: recompute every row from its evidence; give old rows theirs.

A row verifies when its evidence folder exists, hashes to the row's `evidence_sha256`, was made under
the row's protocol and data set, and every metric, the fold count and the parameter count recomputed
from its per-slice counts equal the row's (to the 6 significant digits the table keeps).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock

from ichbench.atomic import atomic_write_text
from ichbench.environment import CodeState
from ichbench.errors import IchbenchError
from ichbench.evaluation.budget import BUDGET_COLUMNS, summarize_budget
from ichbench.evaluation.metrics import TABLE, count_scores, counts_of, value_columns
from ichbench.evaluation.summary import summarize_results
from ichbench.leaderboard.cells import cell_text, code_cells
from ichbench.leaderboard.evidence import UNVERIFIABLE, Source, digest, write_row_evidence
from ichbench.leaderboard.page import render
from ichbench.protocol import parse_protocol
from ichbench.rundir import PROTOCOL, RUN_JSON, SPLITS, JobResult, model_results


@dataclass(frozen=True)
class Check:
    """The outcome for one row: status is "ok", "unverifiable" (said so in the row) or "failed"."""

    table: str
    row: int
    model: str
    status: str
    detail: str = ""


def recompute(folder: Path, model: str, results: list[JobResult] | None = None) -> dict[str, float]:
    """A model's fold count, parameter count, every metric and its budget, from an evidence folder or run
    directory (or from its results, already read from there)."""
    results = model_results(folder, model) if results is None else results
    if not results:
        raise IchbenchError(f"{folder}: no finished job of {model}")
    toml = Path(folder) / PROTOCOL
    if not toml.is_file():
        raise IchbenchError(f"{folder}: no {PROTOCOL}")
    protocol = parse_protocol(toml.read_text(), str(toml))
    inconsistent = [m for r in results for m in _subject_mismatches(r)]
    if inconsistent:
        raise IchbenchError(f"{folder}: per-subject rows disagree with their per-slice counts: {inconsistent[0]}")
    metrics = summarize_results(results, protocol.metrics.detection_pixels)
    budget = summarize_budget(results, protocol)
    folds = len({r.fold for r in results})
    return {"folds": folds, "params": results[0].params, **metrics, **budget}


def _subject_mismatches(result: JobResult) -> list[str]:
    """Per-subject scores that do not follow from the job's per-slice counts (the mask-based ones, hd95, nsd
    and the lesion counts, cannot be recomputed without the masks: not checked)."""
    per_slice = pd.DataFrame(result.per_slice)
    bad = []
    for subject in result.per_subject:
        mine = per_slice[per_slice["subject"].astype(str) == str(subject["subject"])]
        counts = counts_of(*(mine[k].to_numpy() for k in ("tp", "fp", "fn", "tn")))
        for key, want in count_scores(counts).items():
            if key not in subject:  # a value added after this job was scored
                continue
            if not _same(subject[key], want, rel_tol=1e-9):
                bad.append(f"fold {result.fold} subject {subject['subject']} {key} {subject[key]} != {want}")
    return bad


def _number(value: Any) -> float:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return math.nan
    return float(value)


def _same(a: Any, b: Any, rel_tol: float) -> bool:
    """Equal as numbers within rel_tol; NaN equals NaN."""
    x, y = _number(a), _number(b)
    return (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=rel_tol, abs_tol=1e-9)


SEED_COLUMNS = ("seeds", "dice_paper_seed_std")  # of rows trained under several seeds ([cv] seeds)


def checked_columns() -> list[str]:
    """What verify recomputes: the fold and parameter counts, every metric of the metric table, the budget."""
    return ["folds", "params", *value_columns(), *BUDGET_COLUMNS, *SEED_COLUMNS]


def differences(row: Mapping[str, Any], recomputed: Mapping[str, float]) -> list[str]:
    """The columns where the row differs from the recomputed values (NaN equals NaN)."""
    # The table keeps 6 significant digits.
    return [
        f"{c} {_number(row.get(c)):g} != {_number(recomputed[c]):g}"
        for c in checked_columns()
        # A column added after the row was written is absent from it, or empty once its table gained it.
        if not ((_later(c) or c in (*BUDGET_COLUMNS, *SEED_COLUMNS)) and math.isnan(_number(row.get(c))))
        if not _same(row.get(c), recomputed[c], rel_tol=1e-5)
    ]


def _later(column: str) -> bool:
    """A metric (or its std) added after rows were written: older rows hold it empty."""
    metric = TABLE.get(column.removesuffix("_std"))
    return metric is not None and metric.later


def _provenance(folder: Path, row: Mapping[str, Any]) -> list[str]:
    """Where the evidence disagrees with the row about how it was made (protocol, data set)."""
    meta = json.loads((folder / RUN_JSON).read_text())
    toml = folder / PROTOCOL
    protocol = parse_protocol(toml.read_text(), str(toml))
    bad = [
        f"{key} {meta.get(key)} != {row[key]}"
        for key in ("protocol_hash", "dataset_fingerprint")
        if str(meta.get(key)) != str(row[key])
    ]
    if str(row["protocol_hash"]) not in (protocol.hash_for(True), protocol.hash_for(False)):
        bad.append(f"protocol.toml hashes to {protocol.hash}, not {row['protocol_hash']}")
    on_phantom = str(row["protocol_hash"]) == protocol.hash_for(True)
    for key, want in protocol.table_hashes(on_phantom).items():
        if key in row and cell_text(row[key]) != want:
            bad.append(f"{key} {cell_text(row[key]) or 'empty'} != {want or 'empty'}, as protocol.toml says")
    return bad


def _code(row: Mapping[str, Any], results: list[JobResult]) -> list[str]:
    """Where the row's code columns disagree with what its folds recorded (commit, clean tree, patch hash)."""
    said = code_cells(results)
    if not said["commits"]:
        return []  # folds from before jobs recorded their code: the row names its run's commit
    own = [(f"fold {r.fold}", r.code) for r in results]
    trained = [(f"fold {r.fold}'s weights", r.weights_from.get("code")) for r in results if r.weights_from]
    bad = [
        f"{where}: its patch does not hash to its patch_sha256"
        for where, c in own + trained
        if not c["clean"] and CodeState(c["commit"], False, c.get("patch", "")).patch_sha256 != c.get("patch_sha256")
    ]
    if cell_text(row.get("commit")) != said["commits"]:
        bad.append(f"commit {cell_text(row.get('commit'))} != {said['commits']}, the folds' own")
    clean = said["code_clean"] == "yes"
    if "code_clean" in row and (cell_text(row["code_clean"]) == "yes") != clean:
        shown = cell_text(row["code_clean"]) or "empty"
        bad.append(f"code_clean {shown}, but {'every' if clean else 'not every'} fold ran from a clean tree")
    return bad


def check_row(directory: Path, table: str, index: int, row: Mapping[str, Any]) -> Check:
    """Verify one row against its evidence."""
    evidence = str(row.get("evidence") or "").strip()
    done = lambda status, detail="": Check(table, index, str(row["model"]), status, detail)  # noqa: E731
    if evidence.startswith(UNVERIFIABLE):
        return done("unverifiable", evidence)
    if not evidence or evidence == "nan":
        return done("failed", "no evidence recorded")
    folder = Path(directory) / evidence
    if not folder.is_dir():
        return done("failed", f"evidence folder {folder} is missing")
    if digest(folder) != str(row.get("evidence_sha256")):
        return done("failed", f"{folder}: contents do not hash to the row's evidence_sha256")
    try:
        results = model_results(folder, str(row["model"]))
        bad = _provenance(folder, row) + _code(row, results)
        bad += differences(row, recompute(folder, str(row["model"]), results))
    except (IchbenchError, OSError, ValueError, KeyError) as exc:  # damaged evidence is a failed row
        return done("failed", f"{folder}: {exc}")
    return done("failed", "; ".join(bad)) if bad else done("ok", evidence)


def _tables(directory: Path) -> list[Path]:
    tables = sorted(Path(directory).glob("*.csv"))
    if not tables:
        raise IchbenchError(f"{directory}: no leaderboard CSV files")
    return tables


def verify(directory: Path) -> list[Check]:
    """Check every row of every table in a leaderboard folder."""
    checks = []
    for path in _tables(directory):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        checks += [check_row(directory, path.name, i, row) for i, row in frame.iterrows()]
    return checks


def _attach_row(directory: Path, row: dict, sources: list[Path]) -> dict:
    """The row with its evidence written from the first source whose results reproduce it, else marked."""
    candidates = [*sources, Path(row["run"])] if row.get("run") else list(sources)
    for source in candidates:
        try:
            if (source / RUN_JSON).is_file() and not _provenance(source, row):
                results = model_results(source, row["model"])
                if not differences(row, recompute(source, row["model"], results)):
                    splits = source / SPLITS
                    src = Source(
                        results,
                        (source / PROTOCOL).read_text(),
                        json.loads((source / RUN_JSON).read_text()),
                        splits.read_bytes() if splits.is_file() else None,
                    )
                    return write_row_evidence(directory, row, src)
        except (IchbenchError, OSError, ValueError, KeyError):
            continue  # not this one
    gone = f"its run directory {row['run']} was gone" if row.get("run") and not Path(row["run"]).exists() else ""
    why = gone or "no folder given holds results that reproduce it"
    return {**row, "evidence": f"{UNVERIFIABLE}: {why} when rows began to keep evidence"}


def attach(directory: Path, sources: list[Path]) -> list[Check]:
    """Give every row without evidence its evidence from `sources` (or its own run directory), else mark it."""
    directory = Path(directory)
    with FileLock(str(directory / ".leaderboard.lock"), timeout=120):
        for path in _tables(directory):
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)  # strings: other cells kept byte for byte
            for column in ("evidence", "evidence_sha256"):
                if column not in frame.columns:
                    frame[column] = ""
            rows = [
                _attach_row(directory, row, sources) if not row["evidence"] else row for row in frame.to_dict("records")
            ]
            atomic_write_text(path, pd.DataFrame(rows, columns=frame.columns).to_csv(index=False))
        atomic_write_text(directory / "README.md", render(directory))
    return verify(directory)
