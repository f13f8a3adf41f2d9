"""`ichbench run` and `ichbench list`."""

from __future__ import annotations

import argparse
import json
import math
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table


def register(sub: argparse._SubParsersAction) -> None:
    """Add the benchmark subcommands."""
    run = sub.add_parser("run", help="train and evaluate models under a protocol, append to the leaderboard")
    run.add_argument("--models", default="all", help="'all' or comma-separated names (see `ichbench list`)")
    run.add_argument("--protocol", default=None, help="a preset (paper, quick, ...) or a TOML file (default: paper)")
    run.add_argument("--data", type=Path, default=None, help="data folder (default: the protocol's phantom)")
    run.add_argument("--out", type=Path, default=None, help="run directory (default: runs/<timestamp>)")
    run.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    run.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoints")
    run.add_argument(
        "--restart-damaged",
        action="store_true",
        help="with --resume: restart from scratch any job whose checkpoint no longer matches its recorded hash",
    )
    run.add_argument("--splits", type=Path, default=None, help="use this split file instead of making one")
    run.add_argument(
        "--leaderboard",
        type=Path,
        default=None,
        help="leaderboard folder (default: your own, see `ichbench leaderboard --where`)",
    )
    run.add_argument("--no-leaderboard", action="store_true", help="do not append to any leaderboard")
    run.add_argument(
        "--executor",
        default="local",
        choices=("local", "ray"),
        help='local: one job after another (default); ray: Ray tasks (pip install "ichbench[ray]")',
    )
    run.add_argument("--address", default=None, help="ray: join this Ray cluster (default: start a local one)")
    run.add_argument("--gpus-per-job", type=float, default=None, help="ray: GPUs per job (default 1 on CUDA, else 0)")
    run.add_argument(
        "--cpus-per-job",
        type=float,
        default=None,
        help="ray: CPUs (and torch threads) per job (default: the local executor's threads; 1 on a cluster)",
    )
    run.add_argument(
        "--jobs",
        default=None,
        help="run only these jobs: MODEL:FOLD (every seed) or MODEL:FOLD:seedN, e.g. unet:1,unet:2:seed1",
    )
    run.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop cleanly at the first epoch boundary past N minutes (exit 3; --resume continues)",
    )
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.add_argument("--wide", action="store_true", help="print every metric, not only the key ones")
    run.add_argument("--allow-dirty", action="store_true", help=ALLOW_DIRTY)
    run.add_argument(
        "--seeds",
        default=None,
        help="train each (model, fold) once per seed, e.g. 0,1,2 (sets the protocol's [cv] seeds)",
    )
    run.add_argument(
        "--weights-from",
        type=Path,
        default=None,
        metavar="RUN",
        help="score RUN's kept weights instead of training (its protocol differs only in [post] or [metrics])",
    )
    run.set_defaults(func=cmd_run)

    lst = sub.add_parser("list", help="registered models: names, parameter counts, source package")
    lst.add_argument("pattern", nargs="?", default="*")
    lst.add_argument("--protocol", default=None, help="also list this protocol's variants ([models.NAME] with base)")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)


def cmd_run(args: argparse.Namespace) -> int:
    """Run the benchmark."""
    import torch

    from ichbench.benchmark.run import RunConfig, parse_jobs, run
    from ichbench.errors import RunError
    from ichbench.models.registry import resolve
    from ichbench.protocol import load_protocol

    if args.resume and args.out is None:
        raise RunError("--resume needs --out naming the run to continue")
    if args.restart_damaged and not args.resume:
        raise RunError("--restart-damaged goes with --resume")
    out = args.out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    jobs = parse_jobs(args.jobs) if args.jobs else None
    models = list(dict.fromkeys(m for m, *_ in jobs)) if jobs else args.models
    err = Console(stderr=True)
    if args.protocol is None and not torch.cuda.is_available():
        err.print(
            "[yellow]note: no CUDA device, and --protocol defaults to paper, the full published protocol "
            "(days on a CPU: see the plan below). For a first look in minutes: --protocol quick[/yellow]"
        )
    protocol = with_seeds(load_protocol(args.protocol or "paper"), args.seeds)
    config = RunConfig(
        models=resolve(models, protocol),
        protocol=protocol,
        out=out,
        data=args.data,
        device=args.device,
        resume=args.resume,
        restart_damaged=args.restart_damaged,
        splits=args.splits,
        executor=args.executor,
        executor_options=_executor_options(args),
        leaderboard=board_dir(args),
        progress=not args.json,
        jobs=jobs,
        max_minutes=args.max_minutes,
        allow_dirty=args.allow_dirty,
        weights_from=args.weights_from,
        notify=lambda text: err.print(text, highlight=False),
    )
    summary = run(config)
    if args.json:
        records = [{k: _finite(v) for k, v in row.items()} for row in summary.to_dict(orient="records")]
        print(json.dumps({"run": str(out), "models": records}))
    else:
        from ichbench.cli.tables import print_results

        print_results(summary, f"results ({out})", wide=args.wide, extra=["wall_s"])
    return 0


ALLOW_DIRTY = (
    "append rows to a leaderboard kept in git although the code has uncommitted changes (the rows say so, "
    "and their evidence holds the patch)"
)


def with_seeds(protocol, text: str | None):
    """The protocol with [cv] seeds from --seeds '0,1,2' (unchanged without the flag), checked as a file is."""
    if text is None:
        return protocol
    from dataclasses import replace

    from ichbench.errors import ProtocolError
    from ichbench.protocol_checks import validate

    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items or not all(t.isdigit() for t in items):
        raise ProtocolError(f"--seeds {text!r}: expected whole numbers separated by commas, e.g. 0,1,2")
    seeded = replace(protocol, cv=replace(protocol.cv, seeds=tuple(int(t) for t in items)))
    validate("--seeds", seeded)
    return seeded


def board_dir(args: argparse.Namespace) -> Path | None:
    """--no-leaderboard, --leaderboard DIR, or the user's own leaderboard folder."""
    from ichbench.leaderboard import default_directory

    return None if args.no_leaderboard else (args.leaderboard or default_directory())


def _executor_options(args: argparse.Namespace) -> dict:
    """The --address/--gpus-per-job/--cpus-per-job options, which only the ray executor takes."""
    from ichbench.errors import RunError

    given = {"address": args.address, "gpus_per_job": args.gpus_per_job, "cpus_per_job": args.cpus_per_job}
    given = {k: v for k, v in given.items() if v is not None}
    if given and args.executor != "ray":
        raise RunError(f"--{next(iter(given)).replace('_', '-')} needs --executor ray")
    return given


def _finite(value: object) -> object:
    """NaN is not JSON: undefined metrics are null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def cmd_list(args: argparse.Namespace) -> int:
    """List registered models, and with --protocol its variants (their base and arguments)."""
    import fnmatch

    from ichbench.models.registry import available_models, broken_models, build, list_models, variants
    from ichbench.protocol import load_protocol

    protocol = load_protocol(args.protocol) if args.protocol else None
    extra = variants(protocol)
    rows = []
    for name in list_models(args.pattern) + sorted(n for n in extra if fnmatch.fnmatchcase(n, args.pattern)):
        info = available_models()[extra.get(name, name)]
        params = sum(p.numel() for p in build(name, protocol).parameters())
        row = {"name": name, "parameters": params, "source": info.source, "target": info.target}
        if name in extra:
            row["variant_of"] = extra[name]
            row["arguments"] = {k: v for k, v in protocol.models[name].items() if k != "base"}
        rows.append(row)
    broken = [{"name": n, "error": e} for n, e in broken_models()]
    if args.json:
        print(json.dumps({"models": rows, "broken": broken}))
        return 0
    caption = (
        f"parameters as built under protocol {protocol.name!r}"
        if protocol
        else "parameters at the factories' defaults; --protocol P shows them as a protocol builds them"
    )
    table = Table(title="ichbench models", caption=caption)
    for c in ("name", "parameters", "source", "target"):
        table.add_column(c)
    for r in rows:
        target = f"variant of {r['variant_of']} {r['arguments']}" if "variant_of" in r else r["target"]
        table.add_row(r["name"], f"{r['parameters']:,}", r["source"], target)
    console = Console()
    console.print(table)
    for b in broken:
        console.print(f"[red]broken plugin {b['name']}: {b['error']}[/red]")
    return 0
