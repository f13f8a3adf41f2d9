"""Subject-wise k-fold splits, stratified by hemorrhage, stored as JSON files anyone can read and fix."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ichbench.atomic import atomic_write_text
from ichbench.data.dataset import Dataset
from ichbench.errors import DataError
from ichbench.protocol import CV


@dataclass
class Fold:
    """One fold: test subjects, and the training subjects with their validation subset."""

    fold: int
    train: list[str]
    val: list[str]
    test: list[str]


def make_splits(ds: Dataset, k: int = 5, seed: int = 0, val_fraction: float = 0.2) -> list[Fold]:
    """k folds over subjects; hemorrhage subjects spread evenly; a validation subset inside training."""
    if not 2 <= k <= len(ds.subjects):
        raise DataError(f"cannot make {k} folds from {len(ds.subjects)} subjects (need 2 <= k <= subjects)")
    rng = np.random.default_rng(seed)
    positive = [s.id for s in ds.subjects if s.has_hemorrhage]
    negative = [s.id for s in ds.subjects if not s.has_hemorrhage]
    test_sets: list[list[str]] = [[] for _ in range(k)]
    # Deal positives then negatives round-robin, continuing the turn so fold sizes stay even.
    turn = 0
    for group in (positive, negative):
        for sid in rng.permutation(group).tolist():
            test_sets[turn % k].append(sid)
            turn += 1
    folds = []
    for i, test in enumerate(test_sets):
        pool = [s for s in ds.ids if s not in set(test)]
        val = _validation(pool, set(positive), val_fraction, rng)
        train = [s for s in pool if s not in set(val)]
        folds.append(Fold(fold=i, train=train, val=val, test=sorted(test)))
    return folds


def folds_for(ds: Dataset, cv: CV, path: Path | None = None) -> list[Fold]:
    """The folds in a split file when one is given, else the protocol's seeded folds of `ds`."""
    return load_splits(path, ds) if path is not None else make_splits(ds, cv.folds, cv.seed, cv.val_fraction)


def _validation(pool: list[str], positive: set[str], fraction: float, rng: np.random.Generator) -> list[str]:
    pos = [s for s in pool if s in positive]
    neg = [s for s in pool if s not in positive]
    n_pos = max(1, int(round(fraction * len(pos)))) if len(pos) > 1 else 0
    n_neg = int(round(fraction * len(neg)))
    chosen = rng.permutation(pos)[:n_pos].tolist() + rng.permutation(neg)[:n_neg].tolist()
    return sorted(chosen)


def save_splits(path: Path, folds: list[Fold], ds: Dataset, seed: int) -> None:
    """Write the splits as JSON (atomically)."""
    doc = {"dataset": ds.name, "fingerprint": ds.fingerprint, "seed": seed, "folds": [asdict(f) for f in folds]}
    atomic_write_text(Path(path), json.dumps(doc, indent=2) + "\n")


def load_splits(path: Path, ds: Dataset | None = None) -> list[Fold]:
    """Read a split file; with a data set, check that every subject exists and no test sets overlap."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
        folds = [Fold(**{k: f[k] for k in ("fold", "train", "val", "test")}) for f in doc["folds"]]
    except FileNotFoundError:
        raise DataError(f"{path}: split file not found") from None
    except (ValueError, KeyError, TypeError) as exc:  # bad JSON or UTF-8, missing keys, wrong shapes
        raise DataError(f"{path}: not a valid split file ({type(exc).__name__}: {exc})") from None
    for f in folds:
        lists = (f.train, f.val, f.test)
        ids_ok = all(isinstance(x, list) and all(isinstance(i, str) for i in x) for x in lists)
        if not isinstance(f.fold, int) or not ids_ok:
            raise DataError(f"{path}: fold {f.fold!r}: expected an integer fold and lists of subject ids")
    if ds is not None:
        _validate(path, folds, set(ds.ids))
    return folds


def _validate(path: Path, folds: list[Fold], known: set[str]) -> None:
    seen: set[str] = set()
    for f in folds:
        unknown = sorted((set(f.train) | set(f.val) | set(f.test)) - known)
        if unknown:
            raise DataError(f"{path}: fold {f.fold} names unknown subject(s) {', '.join(unknown[:5])}")
        if set(f.test) & (set(f.train) | set(f.val)):
            raise DataError(f"{path}: fold {f.fold} has subjects in both training and test")
        if seen & set(f.test):
            raise DataError(f"{path}: fold {f.fold} repeats test subjects of an earlier fold")
        seen |= set(f.test)
