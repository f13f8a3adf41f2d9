"""bench/ratios.py reads asv's results format and names its baselines."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

RATIOS = Path(__file__).resolve().parents[1] / "bench" / "ratios.py"


def _module():
    spec = importlib.util.spec_from_file_location("ratios", RATIOS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ratios_from_an_asv_results_file(tmp_path: Path) -> None:
    columns = ["result", "params", "version", "started_at", "duration"]
    results = {
        "bench_post.OneSlice.time_ichbench": [[0.0002], [], "v", 0, 1.0],
        "bench_post.OneSlice.time_paper_stack": [[0.0010], [], "v", 0, 1.0],
        "bench_post.OneSlice.time_floor_read_once": [[0.0001], [], "v", 0, 1.0],
        "bench_post.Batch.time_stitch_binarize": [[0.4, 0.2], [["1", "2"]], "v", 0, 1.0],
    }
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"result_columns": columns, "results": results}))
    ratios = _module()
    times = ratios.timings(path)
    assert times["bench_post.Batch.time_stitch_binarize(2)"] == 0.2
    got = {what: value for what, value, _ in ratios.ratios(times)}
    assert got["post: ichbench vs the paper's numpy + OpenCV stack"] == pytest.approx(5.0)
    assert got["post: ichbench vs reading the windows once"] == pytest.approx(2.0)
    assert got["post: 500 slices, 2 threads vs 1"] == pytest.approx(2.0)
    assert got["data: sampler vs a numpy copy of the same bytes"] is None  # not in this file
