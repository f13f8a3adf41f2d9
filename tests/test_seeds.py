"""Seeds as data: each (model, fold) trains once per seed; rows average subjects over seeds and say the spread."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ichbench.protocol import parse_protocol
from ichbench.report.overlays import choose_cases, panels
from ichbench.report.plots import curve_lines
from ichbench.report.runs import load_runs
from ichbench.rundir import PREDICTIONS

pytestmark = pytest.mark.slow  # trains and scores 8 tiny jobs through the CLI

SEEDS = "\n[cv]\nfolds = 2\nval_fraction = 0.3\nseeds = [0, 1]\n"


def test_seeds_train_each_job_once_per_seed_and_rows_carry_the_spread(tmp_path: Path, cli, tiny_protocol) -> None:
    text = tiny_protocol(tmp_path / "tiny.toml", epochs=1).read_text()
    (tmp_path / "seeds.toml").write_text(text.replace("\n[cv]\nfolds = 2\nval_fraction = 0.3\n", SEEDS))
    base, seeded = (parse_protocol((tmp_path / f).read_text(), f) for f in ("tiny.toml", "seeds.toml"))
    assert seeded.cv.seeds == (0, 1) and seeded.test_hash == base.test_hash and seeded.hash != base.hash
    run = cli("run", "--models", "threshold,resunet", "--protocol", "seeds.toml", "--out", "out", "--leaderboard", "lb")
    assert run.returncode == 0, run.stderr
    found = sorted(str(p.parent.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("result.json"))
    assert found == [f"jobs/{m}/seed{s}/fold{f}" for m in ("resunet", "threshold") for s in (0, 1) for f in (0, 1)]
    runs = [json.loads((tmp_path / "out" / p / "result.json").read_text()) for p in found[:4]]  # resunet's
    assert [r["seed"] for r in runs] == [0, 0, 1, 1]
    assert runs[0]["history"][0]["train_loss"] != runs[2]["history"][0]["train_loss"]  # other seeds, other runs
    # By hand from the per-subject rows: the row's Dice is the mean over subjects of their seed-averaged Dice,
    # and the seed spread is the (population, as every SD) std of the two seeds' means.
    subjects = pd.read_csv(tmp_path / "out" / "per_subject.csv", dtype={"subject": str})
    mine = subjects[(subjects.model == "resunet") & subjects.has_hemorrhage]
    averaged = mine.groupby(["fold", "subject"])["dice_paper"].mean().mean()
    per_seed = mine.groupby("seed")["dice_paper"].mean().to_numpy()
    row = pd.read_csv(next((tmp_path / "lb").glob("phantom__*.csv"))).set_index("model").loc["resunet"]
    assert row["seeds"] == 2 and row["folds"] == 2
    assert row["dice_paper"] == pytest.approx(averaged, rel=1e-5)
    assert row["dice_paper_seed_std"] == pytest.approx(np.std(per_seed, ddof=0), rel=1e-5, abs=1e-9)
    assert cli("leaderboard", "verify", "--leaderboard", "lb").returncode == 0
    assert cli("evidence", "out", "--out", "ev").returncode == 0
    merged = cli("merge", "ev", "--out", "merged", "--no-leaderboard", "--json")
    assert merged.returncode == 0 and json.loads(merged.stdout)["missing"] == [], merged.stderr
    again = pd.read_csv(tmp_path / "merged" / "summary.csv").set_index("model").loc["resunet"]
    assert again["dice_paper"] == pytest.approx(row["dice_paper"], rel=1e-5) and again["seeds"] == 2
    # One seed of one fold missing: every fold and every seed is still there, but no row may be written.
    shutil.copytree(tmp_path / "ev", tmp_path / "partial")
    shutil.rmtree(tmp_path / "partial" / "jobs" / "resunet" / "seed1" / "fold1")
    cut = cli("merge", "partial", "--out", "cut", "--leaderboard", "lb2", "--json")
    assert cut.returncode == 0 and json.loads(cut.stdout)["missing"] == ["resunet:1:seed1"], cut.stderr
    assert pd.read_csv(next((tmp_path / "lb2").glob("phantom__*.csv")))["model"].tolist() == ["threshold"]
    report = cli("report", "out", "--out", "report")
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "report" / "report.md").read_text()
    assert "Against seed noise" in page and "## Dice against threshold" in page and "## Subject " in page
    # Every seed has its threshold curve and its overlay panel (the report read only unseeded folds before).
    runs = load_runs([tmp_path / "out"])
    assert {f"resunet (seed {s})" for s in (0, 1)} <= set(curve_lines(runs.curves, runs.models))
    case = choose_cases(runs.per_slice, "resunet", 1)[0]
    titles = [t for t, path in panels(case, {m: runs.jobs(m) for m in runs.models}) if (path / PREDICTIONS).is_file()]
    assert sorted(titles) == sorted(f"{m}, seed {s}" for m in ("threshold", "resunet") for s in (0, 1))
    # One seed of one job, as a later session finishing a multi-seed run names it; a seed the protocol lacks is refused.
    one = cli("run", "--jobs", "threshold:1:seed1", "--protocol", "seeds.toml", "--out", "one", "--no-leaderboard")
    assert one.returncode == 0, one.stderr
    assert [str(p.parent.relative_to(tmp_path / "one")) for p in (tmp_path / "one").rglob("result.json")] == [
        "jobs/threshold/seed1/fold1"
    ]
    bad = cli("run", "--jobs", "threshold:0:seed5", "--protocol", "seeds.toml", "--out", "bad", "--no-leaderboard")
    assert bad.returncode == 2 and "--jobs threshold:0:seed5: no such job" in bad.stderr and "seeds 0, 1" in bad.stderr
    assert cli("export", "out", "--model", "resunet", "--out", "bundle").returncode == 0
    assert json.loads((tmp_path / "bundle" / "bundle.json").read_text())["seed"] == 0


def test_without_seeds_nothing_changes(tmp_path: Path, cli, tiny_protocol) -> None:
    tiny_protocol(tmp_path / "tiny.toml", epochs=1)
    run = cli("run", "--models", "threshold", "--protocol", "tiny.toml", "--out", "out", "--leaderboard", "lb")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "out" / "jobs" / "threshold" / "fold0" / "result.json").is_file()
    assert "seed" not in pd.read_csv(tmp_path / "out" / "per_subject.csv").columns
    row = pd.read_csv(next((tmp_path / "lb").glob("phantom__*.csv"))).iloc[0]
    assert row["seeds"] == 1 and np.isnan(row["dice_paper_seed_std"])
    bad = cli("run", "--models", "threshold", "--protocol", "tiny.toml", "--seeds", "0,x", "--out", "x")
    assert bad.returncode == 2 and "--seeds '0,x'" in bad.stderr
