"""The versioned leaderboard: one CSV per (data set, protocol version), rows appended under a file lock."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pandas as pd
import platformdirs
from filelock import FileLock

from ichbench.atomic import atomic_write_text
from ichbench.environment import in_git_work_tree
from ichbench.errors import RunError
from ichbench.evaluation.budget import BUDGET_COLUMNS
from ichbench.evaluation.metrics import value_columns
from ichbench.leaderboard.evidence import RUNS, Source, slug, write_row_evidence
from ichbench.leaderboard.page import render

ID_COLUMNS = ["date", "model", "kind", "params"]
META_COLUMNS = [
    "folds",
    "seeds",  # training seeds per fold ([cv] seeds); 1 for a row of one seed
    "dice_paper_seed_std",  # the sample std of the per-seed mean Dice (empty for one seed)
    "epochs",
    "wall_s",
    "device",
    "training_precision",  # bf16 or fp32: not "precision", which is a metric's name
    "torch",
    "ichbench",
    "commit",  # every commit the row's folds ran at, ';'-separated
    "code_clean",  # yes, or "no (--allow-dirty)": some fold ran from an uncommitted tree (its patch is in the evidence)
    "protocol",
    "protocol_hash",
    "test_hash",
    "recipe_hash",
    "dataset",
    "dataset_fingerprint",
    "trained_on",
    # An external row (`ichbench evaluate`): whether the bundle's folds were ensembled (yes/no), and the
    # bundle's own test score (its paper Dice on the data set it was trained on) beside the external one.
    "ensemble",
    "own_dice_paper",
    "run",
    "evidence",
    "evidence_sha256",
]


def columns() -> list[str]:
    """A table's columns: identity, every metric of the metric table with its std, provenance."""
    return ID_COLUMNS + value_columns() + BUDGET_COLUMNS + META_COLUMNS


def default_directory() -> Path:
    """Where runs append by default: $ICHBENCH_LEADERBOARD, else the user's data folder (never the checkout)."""
    env = os.environ.get("ICHBENCH_LEADERBOARD")
    return Path(env) if env else platformdirs.user_data_path("ichbench") / "leaderboards"


def _append_rows(directory: Path, rows: list[dict]) -> Path:
    first = rows[0]
    path = board_path(directory, first["dataset"], first["protocol"], first["protocol_hash"], first.get("test_hash"))
    old = path.read_text() if path.exists() else ""
    buf = io.StringIO()
    wanted = columns()
    if old and old.splitlines()[0].split(",") != wanted:
        # A table from an older version: the same rows, new columns added (empty for the old rows).
        # The new rows as text at the table's precision (mixed with the old rows' text, a float column
        # would otherwise be written in full).
        new = pd.DataFrame(rows, columns=wanted).map(lambda v: f"{v:.6g}" if isinstance(v, float) and v == v else v)
        frame = pd.concat([pd.read_csv(path, dtype=str), new], ignore_index=True)
        extra = [c for c in frame.columns if c not in wanted]
        frame[wanted + extra].to_csv(buf, index=False, float_format="%.6g")
        atomic_write_text(path, buf.getvalue())
    else:
        pd.DataFrame(rows, columns=wanted).to_csv(buf, index=False, header=not old, float_format="%.6g")
        atomic_write_text(path, old + buf.getvalue())
    return path


def board_path(directory: Path, dataset: str, protocol: str, protocol_hash: str, test_hash: str | None = None) -> Path:
    """`<dataset>__test-<test8>.csv` for a protocol scored natively: every recipe of one test shares it.
    Otherwise (protocols scored at their training scale) `<dataset>__<protocol>-<hash8>.csv`, one per protocol
    hash; a hash-less table of an older version keeps receiving the rows of the one hash it holds."""
    if test_hash:
        return Path(directory) / f"{slug(dataset)}__test-{test_hash[:8]}.csv"
    legacy = Path(directory) / f"{slug(dataset)}__{slug(protocol)}.csv"
    if legacy.exists() and _hash_of(legacy) == protocol_hash:
        return legacy
    return legacy.with_name(f"{slug(dataset)}__{slug(protocol)}-{protocol_hash[:8]}.csv")


def _hash_of(path: Path) -> str | None:
    hashes = pd.read_csv(path, usecols=["protocol_hash"], dtype=str)["protocol_hash"].dropna().unique()
    return hashes[0] if len(hashes) else None


def require_clean(directory: Path, commits: list[str], allow_dirty: bool) -> None:
    """Refuse rows made from an uncommitted tree (a commit label ending in +dirty, or none) for a leaderboard
    folder kept in git, unless allowed: such a row could not name the code that made it."""
    unnamed = [c for c in commits if c.endswith("+dirty") or c in ("none", "")]
    if unnamed and not allow_dirty and in_git_work_tree(directory):
        raise RunError(
            f"{directory} is kept in git and the code is {', '.join(dict.fromkeys(unnamed))}: commit first "
            "(every row names the commit it ran at), or pass --allow-dirty and the row says so"
        )


def append(directory: Path, rows: list[dict], source: Source | None = None) -> Path:
    """Append rows (one data set and protocol) atomically under a lock; returns the CSV's path.

    With `source`, each row's evidence is written under `directory/runs/` first and the row points to it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with FileLock(str(directory / ".leaderboard.lock"), timeout=120):
        kept = set((directory / RUNS).glob("*"))
        try:
            if source is not None:
                rows = [write_row_evidence(directory, row, source) for row in rows]
            path = _append_rows(directory, rows)
        except BaseException:
            for new in set((directory / RUNS).glob("*")) - kept:  # no evidence without its row
                shutil.rmtree(new, ignore_errors=True)
            raise
        atomic_write_text(directory / "README.md", render(directory))  # the page, once the rows are in
    return path
