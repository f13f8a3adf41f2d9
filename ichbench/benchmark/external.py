"""`ichbench evaluate`: external validation of a bundle on any labelled data set the readers accept."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ichbench.atomic import atomic_save, atomic_write_text
from ichbench.benchmark.outputs import evidence_source, leaderboard_rows, write_run_files
from ichbench.data.protocol_data import protocol_dataset
from ichbench.environment import describe_device, versions
from ichbench.evaluation.scoring import score_subjects
from ichbench.inference.bundle import bundle_model, load_bundle
from ichbench.leaderboard import append as append_leaderboard
from ichbench.rundir import PREDICTIONS, JobResult
from ichbench.runlock import hold


def evaluate_bundle(
    bundle_dir: Path, data: Path, out: Path, device: str, ensemble: bool = False, board: Path | None = None
) -> pd.DataFrame:
    """Score a bundle on a data set: the same CSVs and summary as a run, and an 'external' leaderboard row."""
    with hold(out):
        return _evaluate(bundle_dir, data, out, device, ensemble, board)


def _evaluate(bundle_dir: Path, data: Path, out: Path, device: str, ensemble: bool, board: Path | None) -> pd.DataFrame:
    start = time.perf_counter()
    bundle = load_bundle(bundle_dir, device)
    # Read at the folder's own resolution: each scan is resampled to the size the model saw and its
    # masks are made and scored at the scan's size (Bundle.model_shape, Bundle.protocol_at).
    full = replace(bundle.protocol, data=replace(bundle.protocol.data, scale=1.0))
    dataset = protocol_dataset(full, data)
    shape = tuple(dataset.subjects[0].image.shape[1:])
    model, threshold = bundle_model(bundle, ensemble)
    tags = {"model": bundle.name, "fold": 0}
    protocol, size = bundle.protocol_at(shape, ensemble), bundle.model_shape(shape)
    precision = bundle.precision(torch.device(device))
    scores = score_subjects(model, dataset.subjects, protocol, torch.device(device), threshold, tags, size, precision)
    result = JobResult(
        model=bundle.name,
        fold=0,
        params=sum(p.numel() for p in bundle.models[min(bundle.models)].parameters()),
        best_epoch=0,
        epochs=0,
        threshold=threshold,
        fitted={},
        seconds=time.perf_counter() - start,
        history=[],
        threshold_curve=[],
        per_slice=scores.per_slice,
        per_subject=scores.per_subject,
        training_precision=bundle.meta.get("precision"),  # what the bundle's folds trained in
        device_name=describe_device(device),
        threads=torch.get_num_threads(),
    )
    summary = write_run_files(out, [result], bundle.protocol)
    atomic_save(out / PREDICTIONS, lambda p: np.savez_compressed(p, **scores.masks), suffix=".npz")
    meta = {
        "protocol": bundle.protocol.name,
        "protocol_hash": bundle.meta["protocol_hash"],
        **bundle.protocol.table_hashes(on_phantom=False),
        "dataset": dataset.name,
        "dataset_fingerprint": dataset.fingerprint,
        "device_name": describe_device(device),
        **versions(),
        "kind": "external",
        "trained_on": bundle.meta["trained_on"],
        "ensemble": "yes" if ensemble else "no",
        "own_dice_paper": bundle.meta.get("metrics", {}).get("dice_paper"),
    }
    rows = leaderboard_rows(summary, meta, board, out)
    atomic_write_text(
        out / "evaluation.json",
        json.dumps({"bundle": str(bundle_dir), "ensemble": ensemble, "rows": rows}, indent=1, default=str),
    )
    if board is not None:
        append_leaderboard(board, rows, evidence_source(out, [result], bundle.protocol, meta))
    return summary
