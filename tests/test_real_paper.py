"""The faithful `paper` protocol on the real CT-ICH v1.0.0 release (runs whenever ../shared has it)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

# Forward GFLOP per 160 x 160 window, counted independently (torch FlopCounterMode, issue 10).
GFLOP = {"unet": 6.02, "unetplusplus": 14.28, "linknet": 3.85, "resunet": 9.93, "unet-hssayeni": 42.66}


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One data cache for this module's real-data runs, so the release is decoded once."""
    return {"ICHBENCH_CACHE": str(tmp_path_factory.mktemp("real-cache"))}


@pytest.mark.slow
def test_paper_plan_validates_on_a_quarter_of_the_training_windows(real_data: Path, cli, real_cache) -> None:
    proc = cli(
        "plan",
        "--models",
        "all",
        "--protocol",
        "paper",
        "--data",
        real_data,
        "--json",
        "--no-calibrate",
        env=real_cache,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    learned = [j for j in doc["jobs"] if j["model"] in GFLOP]
    assert len(learned) == 25
    for job in learned:
        assert 0 < job["val_windows"] <= 0.25 * job["train_windows"], job
        assert job["gflop_per_window"] == pytest.approx(GFLOP[job["model"]], rel=0.05)
    assert 4000 < min(j["train_windows"] for j in learned) <= max(j["train_windows"] for j in learned) < 5000


@pytest.mark.slow
def test_paper_fixed_band_reproduces_the_published_threshold_row(
    real_data: Path, cli, real_cache, tmp_path: Path
) -> None:
    proc = cli(
        "run",
        "--models",
        "threshold-fixed",
        "--protocol",
        "paper",
        "--data",
        real_data,
        "--out",
        "r",
        "--leaderboard",
        "lb",
        "--json",
        env=real_cache,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr
    row = pd.read_csv(next((tmp_path / "lb").glob("ctich-1.0.0__test-*.csv"))).iloc[-1]
    assert abs(row["dice_paper"] - 0.135) <= 0.015  # published: Dice 0.135, Jaccard 0.08
    assert not math.isnan(row["sensitivity_original"])  # the original-rule columns are filled
    subjects = pd.read_csv(tmp_path / "r" / "per_subject.csv", dtype={"subject": str})
    assert "070" not in set(subjects.subject) and subjects.subject.nunique() == 81
    assert json.loads((tmp_path / "r" / "run.json").read_text())["excluded"] == ["070"]


@pytest.mark.slow
def test_every_hemorrhage_slice_survives_the_cpu_protocol_downsampling(
    real_data: Path, cli, real_cache, tmp_path: Path
) -> None:
    checked = cli("data", "check", real_data, "--protocol", "cpu", "--json", env=real_cache)
    assert checked.returncode == 0, checked.stderr
    doc = json.loads(checked.stdout)
    # 318 hemorrhage slices, less patient 070's 14, all kept at 160 x 160.
    assert (doc["patients"], doc["positive_slices"], doc["slice_sizes"], doc["excluded"]) == (
        81,
        304,
        ["160x160"],
        ["070"],
    )
    unexcluded = tmp_path / "scaled.toml"
    unexcluded.write_text('name = "scaled"\n[data]\nscale = 0.25\n[windows]\nsize = 64\nstride = 32\n')
    every = json.loads(cli("data", "check", real_data, "--protocol", unexcluded, "--json", env=real_cache).stdout)
    assert (every["patients"], every["positive_slices"]) == (82, 318)
