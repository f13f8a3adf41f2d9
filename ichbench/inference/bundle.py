"""Trained-model bundles: safetensors weights per fold, the protocol, and what the run measured.

A bundle is a folder: bundle.json, protocol.toml and fold<k>.safetensors. Loading never unpickles:
weights come from safetensors, settings from JSON and TOML.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model

from ichbench import __version__
from ichbench.data.scale import factor
from ichbench.errors import DataError, RunError
from ichbench.inference.infer import bf16_is_fast, prepare_model
from ichbench.models.registry import available_models, create_model, model_spec
from ichbench.models.weights import load_checked
from ichbench.protocol import Protocol, load_protocol
from ichbench.rundir import BEST, PROTOCOL, RUN_JSON, SUMMARY, JobDir, job_dirs, read_result
from ichbench.runlock import ensure_free

FORMAT = 1


@dataclass
class Bundle:
    """A loaded bundle: one model per fold, the protocol, and the bundle's metadata."""

    path: Path
    meta: dict
    protocol: Protocol
    models: dict[int, torch.nn.Module]

    @property
    def name(self) -> str:
        """The architecture's registry name."""
        return self.meta["model"]

    def model_shape(self, shape: tuple[int, int]) -> tuple[int, int]:
        """The slice size to give the model for a scan of `shape`: the size it saw in training, whatever the
        scan's; for a bundle that did not record it, the scan downsampled by the protocol's [data] scale."""
        if self.meta.get("slice_shape"):
            return tuple(int(v) for v in self.meta["slice_shape"])
        f = factor(self.protocol.data.scale)
        if shape[0] % f or shape[1] % f:
            raise DataError(
                f"slices of {shape[1]} x {shape[0]} cannot be downsampled by {f} as the bundle's protocol does"
            )
        return shape[0] // f, shape[1] // f

    def used_folds(self, ensemble: bool) -> list[int]:
        """The folds a prediction uses: all of them for an ensemble, else the first."""
        return sorted(self.models) if ensemble else [min(self.models)]

    def protocol_at(self, shape: tuple[int, int], ensemble: bool = False) -> Protocol:
        """The protocol with its closing and opening kernels and its smallest lesion (given in the training
        data's native pixels) converted to pixels of a scan of `shape`, so they cover the same anatomy at any
        resolution (a kernel by the ratio of the sides, an area by its square). Where the folds chose their
        lesion filter on validation ([post] lesion_search), the used folds' choice (their mean) is applied."""
        native = self.meta.get("native_shape") or shape
        ratio = shape[0] / native[0]
        post = self.protocol.post
        filters = self.meta.get("lesion_filters") or {}
        chosen = [filters[str(f)] for f in self.used_folds(ensemble) if str(f) in filters]
        if chosen:
            area = round(sum(c["min_area"] for c in chosen) / len(chosen))
            prob = sum(c["min_max_prob"] for c in chosen) / len(chosen)
            post = replace(post, lesion_min_area=area, lesion_min_max_prob=prob)
        close, open_ = (max(1, round(k * ratio)) if k else 0 for k in (post.close, post.open))
        area = max(1, round(post.lesion_min_area * ratio * ratio)) if post.lesion_min_area else 0
        return replace(self.protocol, post=replace(post, close=close, open=open_, lesion_min_area=area))

    def threshold(self, folds: list[int]) -> float:
        """The mean of the chosen folds' thresholds (they differ only with threshold_search)."""
        values = [self.meta["thresholds"][str(f)] for f in folds]
        return float(sum(values) / len(values))

    def precision(self, device: torch.device) -> str:
        """What to predict in: bf16 where the folds trained in it and the device computes it fast, else fp32
        (a bundle from before jobs recorded their precision: fp32)."""
        return "bf16" if self.meta.get("precision") == "bf16" and bf16_is_fast(torch.device(device)) else "fp32"


def export_bundle(run_dir: Path, model: str, folds: str, out: Path) -> Path:
    """Write a bundle of `model` from a finished run; folds is 'all' or a comma-separated list."""
    run_dir, out = Path(run_dir), Path(out)
    ensure_free(run_dir)  # a run still writing it would give a half-trained bundle
    run_meta = _read_json(run_dir / RUN_JSON, "run.json of a run directory")
    seed, jobs = _first_seed(run_dir, model)
    available = {j.fold: j for j in jobs if read_result(j.path) is not None}
    if not available:
        raise RunError(f"{run_dir}: no finished job of model {model!r} in this run")
    chosen = sorted(available) if folds == "all" else [int(f) for f in folds.split(",")]
    missing = sorted(set(chosen) - set(available))
    if missing:
        raise RunError(f"{run_dir}: fold(s) {missing} of {model!r} are not finished (finished: {sorted(available)})")
    if out.exists():
        raise RunError(f"{out}: already exists")
    protocol = load_protocol(run_dir / PROTOCOL)
    summary = pd.read_csv(run_dir / SUMMARY) if (run_dir / SUMMARY).exists() else None
    metrics = summary[summary.model == model].iloc[0].to_dict() if summary is not None else {}
    results = {f: read_result(available[f].path) for f in chosen}
    precisions = {r.training_precision for r in results.values()}
    base, model_kwargs = model_spec(model, protocol)  # a variant is rebuilt from its base and arguments
    meta = {
        "format": FORMAT,
        "ichbench": __version__,
        "model": model,
        "source": available_models()[base].source if base in available_models() else "unknown",
        "base": base,
        "model_kwargs": model_kwargs,
        "input": input_record(protocol),
        "folds": chosen,
        "seed": seed,  # of a run of several seeds
        "thresholds": {str(f): r.threshold for f, r in results.items()},
        # Each fold's lesion filter, where it chose one on validation ([post] lesion_search).
        "lesion_filters": {
            str(f): {k: r.lesion_filter[k] for k in ("min_area", "min_max_prob")}
            for f, r in results.items()
            if r.lesion_filter
        }
        or None,
        # What the folds trained in (predict uses it where the device computes it fast): one, or unknown.
        "precision": precisions.pop() if len(precisions) == 1 else None,
        "protocol": protocol.name,
        "protocol_hash": run_meta["protocol_hash"],
        "trained_on": run_meta["dataset"],
        "dataset_fingerprint": run_meta["dataset_fingerprint"],
        # The slice size the model saw across the data set's field of view, and the data set's own size:
        # predict and evaluate resample any scan to the first (absent from runs before they were recorded).
        "slice_shape": run_meta.get("slice_shape"),
        "native_shape": run_meta.get("native_shape"),
        "run": str(run_dir),
        "metrics": {k: (None if isinstance(v, float) and v != v else v) for k, v in metrics.items()},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        for f in chosen:
            net = create_model(base, in_channels=protocol.input.count, **model_kwargs)
            net.load_state_dict(load_checked(available[f].path / BEST))
            save_model(net, str(tmp / f"fold{f}.safetensors"))  # keeps tensors a model shares (nnU-Net's) once
        (tmp / PROTOCOL).write_text(protocol.to_toml())
        (tmp / "bundle.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _first_seed(run_dir: Path, model: str) -> tuple[int | None, list[JobDir]]:
    """The seed a bundle takes its folds from (the first, for a run of several seeds; None for one) and
    that seed's job folders."""
    jobs = job_dirs(run_dir, model)
    seed = min((j.seed for j in jobs if j.seed is not None), default=None)
    if any(j.seed is None for j in jobs):
        seed = None
    return seed, [j for j in jobs if j.seed == seed]


def input_record(protocol: Protocol) -> dict:
    """What bundle.json says of the model's input: the windows, the context and each channel's name."""
    spec = protocol.input
    return {"channels": list(spec.channels), "context": spec.context, "labels": spec.labels()}


def _read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RunError(f"{path}: missing ({what})") from None
    except ValueError as exc:  # bad JSON or bad UTF-8
        raise RunError(f"{path}: not valid JSON ({exc})") from None


def load_bundle(path: Path, device: torch.device | str = "cpu") -> Bundle:
    """Load a bundle's fold models (eval mode) after checking its format and version."""
    path = Path(path)
    meta = _read_json(path / "bundle.json", "a model bundle")
    if not isinstance(meta, dict):
        raise RunError(f"{path / 'bundle.json'}: expected a JSON object")
    if meta.get("format") != FORMAT:
        raise RunError(
            f"{path}: bundle format {meta.get('format')!r} is not supported (this ichbench reads "
            f"format {FORMAT}); it was made by ichbench {meta.get('ichbench', 'unknown')}"
        )
    made, here = str(meta.get("ichbench", "0")).split(".")[0], __version__.split(".")[0]
    if made != here:
        raise RunError(
            f"{path}: made by ichbench {meta.get('ichbench')}, incompatible with {__version__} (major versions differ)"
        )
    _check_meta(path, meta)
    protocol = load_protocol(path / PROTOCOL)
    expected = input_record(protocol)
    if meta.get("input", expected) != expected:
        raise RunError(f"{path / 'bundle.json'}: input {meta['input']} differs from its protocol.toml's {expected}")
    models = {}
    for f in meta["folds"]:
        model = create_model(
            meta.get("base", meta["model"]), in_channels=protocol.input.count, **meta.get("model_kwargs", {})
        )
        weights = path / f"fold{f}.safetensors"
        try:
            load_model(model, str(weights))
        except (OSError, SafetensorError, RuntimeError) as exc:  # missing, damaged, or another model's weights
            raise RunError(f"{weights}: cannot load the weights of {meta['model']} ({exc})") from None
        models[int(f)] = prepare_model(model, torch.device(device)).eval()
    return Bundle(path=path, meta=meta, protocol=protocol, models=models)


def _check_meta(path: Path, meta: object) -> None:
    """bundle.json's fields have the types load_bundle relies on."""
    folds = meta.get("folds") if isinstance(meta, dict) else None
    ok = (
        isinstance(meta, dict)
        and isinstance(meta.get("model"), str)
        and isinstance(meta.get("base", ""), str)
        and isinstance(meta.get("model_kwargs", {}), dict)
        and isinstance(folds, list)
        and folds
        and all(isinstance(f, int) and not isinstance(f, bool) and f >= 0 for f in folds)
    )
    if not ok:
        raise RunError(f"{path / 'bundle.json'}: expected a model name, model_kwargs and a list of folds")


class Ensemble(torch.nn.Module):
    """The mean of several models' probabilities, returned as logits so it plugs in like one model."""

    def __init__(self, models: list[torch.nn.Module]) -> None:
        super().__init__()
        self.members = torch.nn.ModuleList(models)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """logit(mean_i sigmoid(model_i(x)))."""
        p = torch.stack([torch.sigmoid(m(x).float()) for m in self.members]).mean(0)
        return torch.logit(p.clamp(1e-7, 1 - 1e-7))


def bundle_model(bundle: Bundle, ensemble: bool) -> tuple[torch.nn.Module, float]:
    """The model to predict with (the first fold's, or the ensemble of all folds) and its threshold."""
    folds = bundle.used_folds(ensemble)
    model = Ensemble([bundle.models[f] for f in folds]) if ensemble else bundle.models[folds[0]]
    return model.eval(), bundle.threshold(folds)
