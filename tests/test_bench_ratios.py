"""bench/ratios.py: ratios against named baselines, and no ratio passed off from a single sample."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location("ratios", Path(__file__).resolve().parents[1] / "bench" / "ratios.py")
ratios = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(ratios)

COLUMNS = ["result", "params", "version", "started_at", "duration", "stats_ci_99_a", "stats_ci_99_b",
           "stats_q_25", "stats_q_75", "stats_number", "stats_repeat"]  # fmt: skip


def _results(tmp_path: Path, repeat: int) -> Path:
    def row(values: list[float], params: list | None = None) -> list:
        n = len(values)
        return [values, params or [], "v", 0, 1.0, values, values, values, values, [1] * n, [repeat] * n]

    doc = {
        "result_columns": COLUMNS,
        "results": {
            "bench_post.OneSlice.time_ichbench": row([1e-3]),
            "bench_post.OneSlice.time_paper_stack": row([4e-3]),
            "bench_post.Fused.time_curve_9": row([1.6e-3, 1.5e-3], [["'random'", "'lesions'"]]),
            "bench_post.Fused.time_curve_1": row([1e-3, 1e-3], [["'random'", "'lesions'"]]),
            "bench_post.Batch.time_stitch_binarize": row([0.8, 0.1], [["1", "2"]]),
        },
    }
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    return path


def test_ratios_name_their_baseline_and_flag_what_cannot_be(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rows = {
        what: (value, kind, warning)
        for what, value, kind, warning in ratios.ratios(*ratios.timings(_results(tmp_path, 10)))
    }
    assert rows["post: ichbench vs the paper's numpy + OpenCV stack"] == (pytest.approx(4.0), "speedup", "")
    assert rows["9-threshold curve vs 1 threshold, random windows"] == (pytest.approx(1.6), "cost", "")
    value, _, warning = rows["post: 500 slices, 2 threads vs 1"]
    assert value == pytest.approx(8.0) and "impossible on 2 threads" in warning  # 8x from 2 threads is noise
    assert ratios.main([str(_results(tmp_path, 10))]) == 1


def test_a_single_sample_run_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _results(tmp_path, 1)  # what `asv run --quick` records
    rows = ratios.ratios(*ratios.timings(path))
    assert all(w == "single sample: not a measurement" or "impossible" in w for _, v, _, w in rows if v is not None)
    assert ratios.main([str(path)]) == 1
    assert "rerun asv without --quick" in capsys.readouterr().err


def test_two_parameter_axes_are_named_as_asv_flattens_them(tmp_path: Path) -> None:
    doc = {
        "result_columns": COLUMNS,
        "results": {
            "bench_train.TrainStep.time_ichbench_step": [
                [1.0, 2.0, 3.0, 4.0], [["'unet'", "'resunet'"], ["'64'", "'160'"]], "v", 0, 1.0,
                None, None, None, None, [1] * 4, [3] * 4,
            ]
        },
    }  # fmt: skip
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    times, single = ratios.timings(path)
    assert times["bench_train.TrainStep.time_ichbench_step(resunet, 64)"] == 3.0 and not single
