"""The README's performance ratios, computed from one asv results file.

    asv run --python=same --set-commit-hash $(git rev-parse HEAD)
    python bench/ratios.py [RESULTS.json]    (default: the newest file under .asv/results)

Every ratio names its baseline: `speedup` is baseline time / measured time (higher is better),
`of floor` is measured time / floor time (lower is better, 1 is the floor itself), `cost` is measured
time / baseline time for more work against less (lower is better).

A ratio needs repeated samples: a timing asv took once (`asv run --quick`) is noise, so a ratio built
on one is printed as such and the script exits 1. A threads ratio above its thread count is flagged
as impossible, whatever the samples.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

# (what, measured benchmark, baseline benchmark, kind); a benchmark with parameters is NAME(PARAM).
RATIOS = [
    # fmt: off
    (
        "lesions: components of a scan, ichbench vs scipy.ndimage.label (26-connected)",
        "bench_lesion.Label.time_ichbench_3d",
        "bench_lesion.Label.time_scipy_3d",
        "speedup",
    ),
    (
        "lesions: components per slice, ichbench vs cv2.connectedComponentsWithStats (8-connected)",
        "bench_lesion.Label.time_ichbench_2d",
        "bench_lesion.Label.time_opencv_2d",
        "speedup",
    ),
    (
        "lesions: the filter on a scan, ichbench vs scipy (label, sizes, maxima, mask)",
        "bench_lesion.Stage.time_ichbench",
        "bench_lesion.Stage.time_scipy",
        "speedup",
    ),
    (
        "lesions: the filter on a scan vs reading its probability map once",
        "bench_lesion.Stage.time_ichbench",
        "bench_lesion.Stage.time_floor_read_once",
        "of floor",
    ),
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
        "cost",
    ),
    (
        "9-threshold curve vs 1 threshold, lesion windows",
        "bench_post.Fused.time_curve_9(lesions)",
        "bench_post.Fused.time_curve_1(lesions)",
        "cost",
    ),
    (
        "stitching: ichbench vs MONAI's SlidingWindowInferer",
        "bench_post.MonaiAnchor.time_ichbench_stitch",
        "bench_post.MonaiAnchor.time_monai",
        "speedup",
    ),
    # fmt: on
    *(
        (
            f"{what}: {m} at {w} px vs plain fp32 torch",
            f"bench_train.{c}.time_ichbench_{t}({m}, {w})",
            f"bench_train.{c}.time_plain_fp32_{t}({m}, {w})",
            "speedup",
        )
        for what, c, t in (("training step", "TrainStep", "step"), ("inference", "InferWindows", "forward"))
        for m in ("unet", "resunet", "nnunet-2d")
        for w in ("64", "160")
    ),  # fmt: skip
    *(
        (
            f"cpu epoch: {m}, fast recipe vs the recipe before it",
            f"bench_train.TrainEpoch.time_ichbench_epoch({m})",
            f"bench_train.TrainEpoch.time_before_epoch({m})",
            "speedup",
        )
        for m in ("unet", "resunet")
    ),
]


THREADS = {"post: 500 slices, 2 threads vs 1": 2, "post: 500 slices fused, 2 threads vs 1": 2}


def timings(path: Path) -> tuple[dict[str, float], set[str]]:
    """Benchmark name (with its parameter, if any) -> seconds, and the names asv timed only once."""
    doc = json.loads(path.read_text())
    column = {name: i for i, name in enumerate(doc["result_columns"])}
    out: dict[str, float] = {}
    single: set[str] = set()
    for name, entry in doc["results"].items():
        values, params = entry[column["result"]], entry[column["params"]]
        repeats = _field(entry, column, "stats_repeat") or [None] * len(values)
        # asv flattens several parameter axes in itertools.product order: NAME(a, b).
        combos = itertools.product(*[[p.strip(chr(39)) for p in axis] for axis in params])
        keys = [name] if not params else [f"{name}({', '.join(c)})" for c in combos]
        for key, value, repeat in zip(keys, values, repeats):
            out[key] = value
            if not repeat or repeat <= 1:
                single.add(key)
    return out, single


def _field(entry: list, column: dict[str, int], name: str) -> list | None:
    """An optional column of a results row (asv drops trailing empty ones)."""
    i = column.get(name)
    return entry[i] if i is not None and i < len(entry) else None


def ratios(times: dict[str, float], single: set[str] = frozenset()) -> list[tuple[str, float | None, str, str]]:
    """(what, ratio or None when a timing is missing, kind, warning) for every ratio of RATIOS."""
    rows = []
    for what, measured, baseline, kind in RATIOS:
        a, b = times.get(measured), times.get(baseline)
        if a is None or b is None:
            rows.append((what, None, kind, ""))
            continue
        value = b / a if kind == "speedup" else a / b
        warning = "single sample: not a measurement" if {measured, baseline} & single else ""
        if what in THREADS and value > THREADS[what]:
            warning = f"impossible on {THREADS[what]} threads: noise"
        rows.append((what, value, kind, warning))
    return rows


def newest(results: Path = Path(".asv/results")) -> Path:
    """The most recent asv results file."""
    files = [p for p in results.glob("*/*.json") if p.name != "machine.json"]
    if not files:
        raise SystemExit(f"{results}: no asv results; run `asv run --python=same --set-commit-hash HEAD` first")
    return max(files, key=lambda p: p.stat().st_mtime)


def main(argv: list[str]) -> int:
    """Print the ratios as a Markdown table; exit 1 when any rests on a single sample or is impossible."""
    path = Path(argv[0]) if argv else newest()
    print(f"ratios from {path}\n\n| ratio | value |\n| --- | --- |")
    rows = ratios(*timings(path))
    for what, value, kind, warning in rows:
        text = "not measured" if value is None else f"{value:.2f}x ({kind})"
        print(f"| {what} | {text}{f' **{warning}**' if warning else ''} |")
    if any(warning for *_, warning in rows):
        print("\nSome ratios are not measurements (see above): rerun asv without --quick.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
