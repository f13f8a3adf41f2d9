"""`ichbench run --weights-from RUN`: score another run's kept weights under a protocol that changes only what
acts after training ([post], [metrics]), such as test-time flips, instead of training the same models again.

The source run must have trained exactly what this protocol would train: the same weights hash (every
setting but [post] and [metrics]; see Protocol.weights_hash_for), data set and folds, and it must have
finished every job asked for (non-learned models fit again: it takes seconds). Each job records the
weights' SHA-256 and the code that trained them (`weights_from`), and keeps the training history, hence
the training cost, it took them with.
"""

from __future__ import annotations

import json
from pathlib import Path

from ichbench.data.dataset import Dataset
from ichbench.data.splits import Fold, folds_for
from ichbench.errors import RunError
from ichbench.protocol import Protocol, load_protocol
from ichbench.rundir import BEST, PROTOCOL, RESULT, RUN_JSON, SPLITS, job_path
from ichbench.training.job import Job


def check_source(source: Path, protocol: Protocol, dataset: Dataset, folds: list[Fold], jobs: list[Job]) -> dict:
    """Check that `source` trained these jobs as `protocol` would; return what run.json records of it."""
    meta_path = Path(source) / RUN_JSON
    if not meta_path.is_file():
        raise RunError(f"--weights-from {source}: not a run directory (no run.json)")
    meta = json.loads(meta_path.read_text())
    theirs = load_protocol(Path(source) / PROTOCOL)
    on_phantom = meta.get("data") is None
    if theirs.weights_hash_for(on_phantom) != protocol.weights_hash_for(on_phantom):
        raise RunError(
            f"--weights-from {source}: its protocol {theirs.name!r} trains differently from {protocol.name!r} "
            "(only [post] and [metrics] may differ)"
        )
    if meta.get("dataset_fingerprint") != dataset.fingerprint:
        raise RunError(f"--weights-from {source}: it ran on other data ({meta.get('dataset')}, another fingerprint)")
    if folds_for(dataset, theirs.cv, Path(source) / SPLITS) != list(folds):
        raise RunError(f"--weights-from {source}: its splits differ from this run's")
    kept = [job_path(source, j.model, j.fold, j.seed) for j in jobs]
    missing = [j.key for j, d in zip(jobs, kept) if not ((d / RESULT).is_file() and (d / BEST).is_file())]
    if missing:
        raise RunError(f"--weights-from {source}: no finished job with kept weights for {', '.join(missing)}")
    return {"run": Path(source).name, "protocol_hash": meta.get("protocol_hash"), "commit": meta.get("commit")}
