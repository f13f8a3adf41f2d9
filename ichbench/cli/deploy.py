"""`ichbench export`, `ichbench predict` and `ichbench evaluate`: trained models beyond the benchmark."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the deployment subcommands."""
    export = sub.add_parser("export", help="export a trained model of a run as a bundle (safetensors)")
    export.add_argument("run_dir", type=Path)
    export.add_argument("--model", required=True)
    export.add_argument("--folds", default="all", help="'all' or comma-separated fold numbers")
    export.add_argument("--out", type=Path, required=True)
    export.set_defaults(func=cmd_export)

    predict = sub.add_parser("predict", help="segment a new scan (NIfTI in HU, DICOM folder, or slice images)")
    predict.add_argument("bundle", type=Path)
    predict.add_argument("input", type=Path)
    predict.add_argument("--out", type=Path, required=True)
    predict.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    # The ensemble is the default on new data: on the phantom it beat the first fold in every comparison
    # (docs/inference.md, "Ensemble or one fold").
    predict.add_argument(
        "--ensemble",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="average the probabilities of all fold models (default); --no-ensemble: the first fold alone",
    )
    predict.add_argument(
        "--input-window",
        choices=("hu", "brain"),
        default="hu",
        help="hu: raw Hounsfield units (default); brain: already in the brain window",
    )
    predict.set_defaults(func=cmd_predict)

    evaluate = sub.add_parser("evaluate", help="score a bundle on a labelled data set (external validation)")
    evaluate.add_argument("bundle", type=Path)
    evaluate.add_argument("--data", type=Path, required=True)
    evaluate.add_argument("--out", type=Path, default=None)
    evaluate.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    evaluate.add_argument(
        "--ensemble",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="all fold models averaged (default); --no-ensemble: the first fold alone",
    )
    evaluate.add_argument(
        "--leaderboard",
        type=Path,
        default=None,
        help="leaderboard folder (default: your own, see `ichbench leaderboard --where`)",
    )
    evaluate.add_argument("--no-leaderboard", action="store_true")
    evaluate.set_defaults(func=cmd_evaluate)


def cmd_export(args: argparse.Namespace) -> int:
    """Write a bundle."""
    from ichbench.inference.bundle import export_bundle

    out = export_bundle(args.run_dir, args.model, args.folds, args.out)
    print(f"exported {args.model} to {out}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Predict one scan and write mask, overlays and summary."""
    import torch

    from ichbench.environment import resolve_device
    from ichbench.inference.bundle import load_bundle
    from ichbench.inference.predict import predict_scan, summarize_mask, write_prediction
    from ichbench.inference.scan import read_scan

    device = resolve_device(args.device)
    bundle = load_bundle(args.bundle, device)
    scan = read_scan(args.input, args.input_window)
    mask = predict_scan(bundle, scan, torch.device(device), args.ensemble)
    summary, per_slice = summarize_mask(mask, scan.spacing)
    summary.update(
        {"input": str(args.input), "bundle": str(args.bundle), "model": bundle.name, "ensemble": args.ensemble}
    )
    write_prediction(args.out, scan, mask, summary, per_slice)
    print(json.dumps(summary, indent=2))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """External validation of a bundle."""
    from ichbench.benchmark.external import evaluate_bundle
    from ichbench.cli.bench import board_dir
    from ichbench.environment import resolve_device

    out = args.out or Path("runs") / f"evaluate-{args.bundle.name}-{args.data.name}"
    board = board_dir(args)
    summary = evaluate_bundle(args.bundle, args.data, out, resolve_device(args.device), args.ensemble, board)
    print(summary.to_string(index=False))
    return 0
