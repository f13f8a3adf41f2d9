"""bench/gpu_check.sh, every step that needs no GPU, on the CPU with tiny settings; and its helpers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ichbench.data.phantom.write import write_phantom

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_gpu_check_runs_every_step_on_the_cpu(tmp_path: Path, tiny_protocol) -> None:
    tiny = tiny_protocol(tmp_path / "tiny.toml", epochs=1)
    data = write_phantom(tmp_path / "data", subjects=6, slices=4, size=64, seed=1, layout="jpg")
    env = dict(
        os.environ,
        OUT=str(tmp_path / "out"),
        PYTHON=sys.executable,
        DEVICE="cpu",
        INSTALL="0",
        BUDGET_MINUTES="4",
        QUICK_PROTOCOL=str(tiny),
        QUICK_MODELS="threshold,resunet",
        PAPER_PROTOCOL=str(tiny),
        THROUGHPUT_STEPS="1",
        THROUGHPUT_MODELS="resunet",
        DATA=str(data),
        PAPER_JOBS="resunet:0",
        PAPER_RUN=str(tmp_path / "paper-run"),
    )
    done = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh")], env=env, capture_output=True, text=True)
    log = (tmp_path / "out" / "gpu_check.log").read_text()
    assert done.returncode == 0, done.stderr + log
    for step in ("2. tests marked cuda", "3. quick protocol", "4. training throughput", "5. plan", "6. "):
        assert step in log, step
    assert "every model within 0.1 of the other run" in log  # the CPU against itself: identical
    rows = [json.loads(line) for line in (tmp_path / "out" / "throughput.jsonl").read_text().splitlines()]
    assert [r["model"] for r in rows] == ["resunet"] and rows[0]["windows_per_s"] > 0
    assert rows[0]["share_of_peak"] is None  # no peak rate is known for a CPU
    assert json.loads((tmp_path / "out" / "plan.json").read_text())["total_pflop"] > 0
    assert (tmp_path / "out" / "paper-evidence.tar.gz").stat().st_size > 0


def test_compare_dice_flags_a_model_beyond_the_tolerance(tmp_path: Path) -> None:
    for run, dice in (("a", [0.30, 0.20]), ("b", [0.35, 0.45])):
        (tmp_path / run).mkdir()
        pd.DataFrame({"model": ["unet", "resunet"], "dice_paper": dice}).to_csv(tmp_path / run / "summary.csv")
    compare = [sys.executable, str(ROOT / "bench" / "compare_dice.py"), str(tmp_path / "a"), str(tmp_path / "b")]
    within = subprocess.run([*compare, "--tolerance", "0.3"], capture_output=True, text=True)
    assert within.returncode == 0 and "every model within 0.3" in within.stdout
    beyond = subprocess.run([*compare, "--tolerance", "0.1"], capture_output=True, text=True)
    assert beyond.returncode == 1 and "beyond the tolerance 0.1: resunet" in beyond.stderr
