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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import pack_data  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_gpu_check_runs_every_step_on_the_cpu(tmp_path: Path, tiny_protocol) -> None:
    tiny = tiny_protocol(tmp_path / "tiny.toml", epochs=1)
    data = write_phantom(tmp_path / "data", subjects=6, slices=4, size=64, seed=1, layout="jpg")
    # The data comes as the tar parts a lent machine receives one call at a time, not as a folder.
    parts = pack_data.pack(data, tmp_path / "parts", max_mib=0.05, only=None)
    assert len(parts) >= 2 and all(p.stat().st_size <= 0.05 * 2**20 for p in parts)
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
        DATA=str(tmp_path / "not-here"),
        PARTS=str(tmp_path / "parts"),
        PAPER_JOBS="resunet:0",
        PAPER_RUN=str(tmp_path / "paper-run"),
    )
    done = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh")], env=env, capture_output=True, text=True)
    log = (tmp_path / "out" / "gpu_check.log").read_text()
    assert done.returncode == 0, done.stderr + log
    steps = ("2. tests marked cuda", "3. quick protocol", "4. training throughput", "5. data from the parts", "6. ")
    assert [log.index(s) for s in steps] == sorted(log.index(s) for s in steps)  # in the order of their value
    for step in steps:
        assert step in log, step
    assert "every model within 0.1 of the other run" in log  # the CPU against itself: identical
    rows = [json.loads(line) for line in (tmp_path / "out" / "throughput.jsonl").read_text().splitlines()]
    assert [r["model"] for r in rows] == ["resunet"] and rows[0]["windows_per_s"] > 0
    assert rows[0]["share_of_peak"] is None  # no peak rate is known for a CPU
    assert json.loads((tmp_path / "out" / "plan.json").read_text())["total_pflop"] > 0
    assert (tmp_path / "out" / "paper-evidence.tar.gz").stat().st_size > 0


def test_pack_data_round_trips_in_parts_and_refuses_an_incomplete_set(tmp_path: Path) -> None:
    data = write_phantom(tmp_path / "data", subjects=3, slices=3, size=64, seed=2, layout="jpg")
    parts = pack_data.pack(data, tmp_path / "parts", max_mib=0.03, only=None)
    assert len(parts) >= 2
    assert pack_data.unpack(tmp_path / "parts", tmp_path / "back") == sum(1 for p in data.rglob("*") if p.is_file())
    for p in data.rglob("*"):
        if p.is_file():
            assert (tmp_path / "back" / p.relative_to(data)).read_bytes() == p.read_bytes()
    parts[-1].unlink()  # the last call's part has not arrived
    with pytest.raises(SystemExit, match="parts not here yet: " + parts[-1].name):
        pack_data.unpack(tmp_path / "parts", tmp_path / "again")
    # The sizes are planned with tar's 512-byte blocks: a part never grows past its limit.
    assert pack_data.plan_parts({"a": 100, "b": 600, "c": 5000}, 10240 + 5632) == [["a", "b"], ["c"]]


def test_compare_dice_flags_a_model_beyond_the_tolerance(tmp_path: Path) -> None:
    for run, dice in (("a", [0.30, 0.20]), ("b", [0.35, 0.45])):
        (tmp_path / run).mkdir()
        pd.DataFrame({"model": ["unet", "resunet"], "dice_paper": dice}).to_csv(tmp_path / run / "summary.csv")
    compare = [sys.executable, str(ROOT / "bench" / "compare_dice.py"), str(tmp_path / "a"), str(tmp_path / "b")]
    within = subprocess.run([*compare, "--tolerance", "0.3"], capture_output=True, text=True)
    assert within.returncode == 0 and "every model within 0.3" in within.stdout
    beyond = subprocess.run([*compare, "--tolerance", "0.1"], capture_output=True, text=True)
    assert beyond.returncode == 1 and "beyond the tolerance 0.1: resunet" in beyond.stderr
