"""The README's performance ratios, computed from one asv results file.

    asv run --python=same --set-commit-hash $(git rev-parse HEAD)
    python bench/ratios.py [RESULTS.json]    (default: the newest file under .asv/results)

Every ratio names its baseline: `speedup` is baseline time / measured time (higher is better),
`of floor` is measured time / floor time (lower is better, 1 is the floor itself).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# (what, measured benchmark, baseline benchmark, kind); a benchmark with parameters is NAME(PARAM).
RATIOS = [
    # fmt: off
    (
        "post: ichbench vs the paper's numpy + OpenCV stack",
        "bench_post.OneSlice.time_ichbench",
        "bench_post.OneSlice.time_paper_stack",
        "speedup",
    ),
    (
        "post: ichbench vs reading the windows once",
        "bench_post.OneSlice.time_ichbench",
        "bench_post.OneSlice.time_floor_read_once",
        "of floor",
    ),
    (
        "post: 500 slices, 2 threads vs 1",
        "bench_post.Batch.time_stitch_binarize(2)",
        "bench_post.Batch.time_stitch_binarize(1)",
        "speedup",
    ),
    (
        "post: 500 slices fused, 2 threads vs 1",
        "bench_post.Batch.time_fused(2)",
        "bench_post.Batch.time_fused(1)",
        "speedup",
    ),
    (
        "data: sampler vs a numpy copy of the same bytes",
        "bench_data.Sampler.time_sampler_batch",
        "bench_data.Sampler.time_floor_numpy_copy",
        "of floor",
    ),
    (
        "fused, random windows: vs the paper's stack",
        "bench_post.Fused.time_fused(random)",
        "bench_post.Fused.time_paper_stack(random)",
        "speedup",
    ),
    (
        "fused, random windows: vs reading the windows once",
        "bench_post.Fused.time_fused(random)",
        "bench_post.Fused.time_floor_read_once(random)",
        "of floor",
    ),
    (
        "fused, lesion windows: vs the paper's stack",
        "bench_post.Fused.time_fused(lesions)",
        "bench_post.Fused.time_paper_stack(lesions)",
        "speedup",
    ),
    (
        "fused, lesion windows: vs reading the windows once",
        "bench_post.Fused.time_fused(lesions)",
        "bench_post.Fused.time_floor_read_once(lesions)",
        "of floor",
    ),
    (
        "9-threshold curve vs 1 threshold, random windows",
        "bench_post.Fused.time_curve_9(random)",
        "bench_post.Fused.time_curve_1(random)",
        "of floor",
    ),
    (
        "9-threshold curve vs 1 threshold, lesion windows",
        "bench_post.Fused.time_curve_9(lesions)",
        "bench_post.Fused.time_curve_1(lesions)",
        "of floor",
    ),
    (
        "stitching: ichbench vs MONAI's SlidingWindowInferer",
        "bench_post.MonaiAnchor.time_ichbench_stitch",
        "bench_post.MonaiAnchor.time_monai",
        "speedup",
    ),
    # fmt: on
]


def timings(path: Path) -> dict[str, float]:
    """Benchmark name (with its parameter, if any) -> seconds, from an asv results file."""
    doc = json.loads(path.read_text())
    column = {name: i for i, name in enumerate(doc["result_columns"])}
    out: dict[str, float] = {}
    for name, entry in doc["results"].items():
        values, params = entry[column["result"]], entry[column["params"]]
        if not params:
            out[name] = values[0]
            continue
        for param, value in zip(params[0], values):  # one parameter axis is all ichbench's benchmarks use
            out[f"{name}({param.strip(chr(39))})"] = value
    return out


def ratios(times: dict[str, float]) -> list[tuple[str, float | None, str]]:
    """(what, ratio or None when a timing is missing, kind) for every ratio of RATIOS."""
    rows = []
    for what, measured, baseline, kind in RATIOS:
        a, b = times.get(measured), times.get(baseline)
        if a is None or b is None:
            rows.append((what, None, kind))
        else:
            rows.append((what, b / a if kind == "speedup" else a / b, kind))
    return rows


def newest(results: Path = Path(".asv/results")) -> Path:
    """The most recent asv results file."""
    files = [p for p in results.glob("*/*.json") if p.name != "machine.json"]
    if not files:
        raise SystemExit(f"{results}: no asv results; run `asv run --python=same --set-commit-hash HEAD` first")
    return max(files, key=lambda p: p.stat().st_mtime)


def main(argv: list[str]) -> int:
    """Print the ratios as a Markdown table."""
    path = Path(argv[0]) if argv else newest()
    print(f"ratios from {path}\n\n| ratio | value |\n| --- | --- |")
    for what, value, kind in ratios(timings(path)):
        print(f"| {what} | {'not measured' if value is None else f'{value:.2f}x ({kind})'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
