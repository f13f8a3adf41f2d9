"""`ichbench run` end to end on a tiny phantom: files, leaderboard, resume after SIGKILL, plugins."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture
def tiny(tmp_path: Path, tiny_protocol) -> Path:
    return tiny_protocol(tmp_path / "tiny.toml", epochs=2)


@pytest.mark.slow
def test_run_writes_every_file_and_appends_to_the_leaderboard(tiny: Path, tmp_path: Path, cli) -> None:
    proc = cli(
        "run", "--models", "threshold,resunet", "--protocol", tiny, "--out", "r1", "--leaderboard", "lb", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "r1"
    summary = json.loads(proc.stdout)
    assert [m["model"] for m in summary["models"]] == ["threshold", "resunet"]
    for name in (
        "summary.csv",
        "per_subject.csv",
        "per_slice.csv",
        "history.csv",
        "protocol.toml",
        "splits.json",
        "run.json",
        "log.txt",
    ):
        assert (out / name).exists(), name
    per_slice = pd.read_csv(out / "per_slice.csv")
    assert len(per_slice) == 2 * 6 * 4  # every test slice of both folds, for both models
    assert set(per_slice.fold) == {0, 1}
    history = pd.read_csv(out / "history.csv")
    assert len(history) == 2 * 2 and set(history.columns) >= {"train_loss", "val_loss", "val_jaccard"}
    board = pd.read_csv(next((tmp_path / "lb").glob("phantom__tiny-*.csv")))
    assert list(board.model) == ["threshold", "resunet"] and (board.folds == 2).all()
    assert board.protocol_hash.nunique() == 1 and "cpu" in board.device[0]
    assert "## phantom / protocol `tiny`" in (tmp_path / "lb" / "README.md").read_text()
    fitted = json.loads((out / "jobs" / "threshold" / "fold0" / "result.json").read_text())["fitted"]
    assert 0 <= fitted["low"] <= fitted["high"] <= 255
    shown = cli("leaderboard", "--leaderboard", "lb", "--json")
    (table,) = json.loads(shown.stdout).values()
    assert shown.returncode == 0 and [r["model"] for r in table] == [
        "threshold",
        "resunet",
    ]
    again = cli("run", "--models", "resunet", "--protocol", tiny, "--out", "r1")
    assert again.returncode == 2 and "pass --resume" in again.stderr


@pytest.mark.slow
def test_user_errors_exit_2_without_traceback(tiny: Path, cli) -> None:
    for args, message in [
        (("run", "--models", "vnet", "--protocol", tiny), "unknown model(s) vnet"),
        (("run", "--protocol", "nope.toml"), "nope.toml: no such protocol file"),
        (("run", "--models", "threshold", "--protocol", tiny, "--device", "cuda"), "no CUDA device"),
        (("run", "--resume", "--protocol", tiny), "--resume needs --out"),
        (("run", "--models", "threshold", "--protocol", tiny, "--data", "missing"), "missing: no such data folder"),
    ]:
        if "cuda" in args and __import__("torch").cuda.is_available():
            continue
        proc = cli(*args)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def _results(out: Path) -> tuple[pd.DataFrame, ...]:
    timings = ["seconds", "train_seconds", "step_seconds", "val_seconds", "checkpoint_seconds"]
    history = pd.read_csv(out / "history.csv").drop(columns=timings, errors="ignore")
    return pd.read_csv(out / "per_slice.csv"), pd.read_csv(out / "per_subject.csv"), history


@pytest.mark.slow
def test_resume_after_sigkill_gives_identical_results(tmp_path: Path, cli, tiny_protocol) -> None:
    protocol = tiny_protocol(tmp_path / "tiny5.toml", epochs=5)
    straight = cli("run", "--models", "resunet", "--protocol", protocol, "--out", "straight", "--no-leaderboard")
    assert straight.returncode == 0, straight.stderr

    exe = Path(sys.executable).parent / "ichbench"
    args = [str(exe), "run", "--models", "resunet", "--protocol", str(protocol), "--out", "killed", "--no-leaderboard"]
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = tmp_path / "killed" / "log.txt"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if log.exists() and "resunet/fold0 epoch 1:" in log.read_text():
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    assert proc.wait(60) == -signal.SIGKILL, "the run must be killed mid-training"
    assert not (tmp_path / "killed" / "summary.csv").exists()
    assert (tmp_path / "killed" / "jobs" / "resunet" / "fold0" / "checkpoint.pt").exists()

    resumed = cli(
        "run", "--models", "resunet", "--protocol", protocol, "--out", "killed", "--resume", "--no-leaderboard"
    )
    assert resumed.returncode == 0, resumed.stderr
    for a, b in zip(_results(tmp_path / "straight"), _results(tmp_path / "killed")):
        pd.testing.assert_frame_equal(a, b)
    assert "epoch 2:" in log.read_text().split("fold0 started")[-1]  # the resumed job continued, not restarted
    # A finished job keeps its best weights and drops the resume state (optimiser moments) it no longer needs.
    for fold in (tmp_path / "killed" / "jobs" / "resunet").iterdir():
        assert (fold / "best.pt").exists() and (fold / "best.pt.sha256").exists()
        assert not list(fold.glob("checkpoint.pt*"))


PLUGIN_MODULE = '''
from torch import nn


def tinynet(in_channels=1, **kw):
    """A contributed architecture: one function and one entry point."""
    return nn.Sequential(nn.Conv2d(in_channels, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 3, padding=1))
'''


@pytest.mark.slow
def test_external_plugin_is_listed_and_runs(tiny: Path, tmp_path: Path, cli, install_plugin) -> None:
    eps = {"tinynet": "ichbench_tinyplug:tinynet", "brokennet": "ichbench_tinyplug_missing:nothing"}
    env = install_plugin("ichbench-tinyplug", {"ichbench.models": eps}, "ichbench_tinyplug", PLUGIN_MODULE)
    listed = cli("list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    doc = json.loads(listed.stdout)
    tiny_row = [m for m in doc["models"] if m["name"] == "tinynet"]
    assert tiny_row and tiny_row[0]["source"] == "ichbench-tinyplug" and tiny_row[0]["parameters"] == 77
    assert doc["broken"][0]["name"] == "brokennet" and "ichbench_tinyplug_missing" in doc["broken"][0]["error"]
    assert "model plugin 'brokennet'" in listed.stderr
    broken = cli("run", "--models", "brokennet", "--protocol", tiny, "--out", "rb", "--no-leaderboard", env=env)
    assert broken.returncode == 2 and "model plugin 'brokennet' failed to load" in broken.stderr
    run = cli("run", "--models", "tinynet", "--protocol", tiny, "--out", "rp", "--leaderboard", "lb", env=env)
    assert run.returncode == 0, run.stderr
    assert list(pd.read_csv(next((tmp_path / "lb").glob("phantom__tiny-*.csv"))).model) == ["tinynet"]


CROPPING_MODULE = """
from torch import nn


def cropnet(in_channels=1, **kw):
    \"\"\"Unpadded convolutions: {out} px out for 32 px in.\"\"\"
    pad = {pad}
    return nn.Sequential(nn.Conv2d(in_channels, 4, 3, padding=pad), nn.ReLU(), nn.Conv2d(4, 1, 1))
"""


@pytest.mark.slow
def test_a_plugin_of_the_wrong_output_shape_is_one_error_and_writes_nothing(
    tiny: Path, tmp_path: Path, cli, install_plugin
) -> None:
    eps = {"ichbench.models": {"cropnet": "ichbench_cropplug:cropnet"}}
    bad = install_plugin("ichbench-cropplug", eps, "ichbench_cropplug", CROPPING_MODULE.format(out=30, pad=0))
    run = cli("run", "--models", "cropnet", "--protocol", tiny, "--out", "rc", "--no-leaderboard", env=bad)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    error = [line for line in run.stderr.splitlines() if "error" in line]
    assert len(error) == 1 and "'cropnet'" in error[0] and "(2, 1, 30, 30)" in error[0] and "input_multiple" in error[0]
    assert not (tmp_path / "rc").exists()  # nothing written: the same command runs once the plugin is fixed
    good = install_plugin("ichbench-cropplug-fixed", eps, "ichbench_cropplug", CROPPING_MODULE.format(out=32, pad=1))
    again = cli("run", "--models", "cropnet", "--protocol", tiny, "--out", "rc", "--no-leaderboard", env=good)
    assert again.returncode == 0, again.stderr
