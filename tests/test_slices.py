"""Job slices (--jobs), clean stops (--max-minutes), merge, and the plan."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import ichbench.benchmark.plan as plan_module
from ichbench.benchmark.plan import plan, window_counts
from ichbench.benchmark.run import parse_jobs
from ichbench.data.phantom.dataset import phantom_dataset
from ichbench.data.splits import make_splits
from ichbench.errors import RunError
from ichbench.evaluation.metrics import value_columns
from ichbench.models.cost import forward_gflop
from ichbench.models.registry import create_model
from ichbench.protocol import load_protocol
from ichbench.training.job import job_name
from ichbench.training.train import TimeLimit, train
from ichbench.training.windows import training_windows


@pytest.mark.slow
def test_two_slices_merged_equal_the_unsliced_run_metric_for_metric(tmp_path: Path, cli, tiny_protocol) -> None:
    tiny = tiny_protocol(tmp_path / "tiny.toml", epochs=2)
    models = "threshold,resunet"
    whole = cli("run", "--models", models, "--protocol", tiny, "--out", "whole", "--no-leaderboard")
    assert whole.returncode == 0, whole.stderr
    for name, jobs in (("a", "threshold:0,resunet:0"), ("b", "threshold:1,resunet:1")):
        part = cli("run", "--jobs", jobs, "--protocol", tiny, "--out", name, "--leaderboard", "lb")
        assert part.returncode == 0, part.stderr
    assert not list((tmp_path / "lb").glob("phantom__tiny*.csv"))  # a slice alone is no leaderboard row
    lonely = cli("merge", "a", "--out", "only-a", "--no-leaderboard", "--json")
    assert lonely.returncode == 0 and json.loads(lonely.stdout)["missing"] == ["threshold:1", "resunet:1"]
    merged = cli("merge", "a", "b", "--out", "merged", "--leaderboard", "lb", "--json")
    assert merged.returncode == 0, merged.stderr
    assert json.loads(merged.stdout)["missing"] == []
    one, two = (pd.read_csv(tmp_path / d / "summary.csv") for d in ("whole", "merged"))
    columns = ["model", "params", "folds", "epochs", "thresholds"] + value_columns()
    pd.testing.assert_frame_equal(one[columns], two[columns])
    for name in ("per_slice.csv", "per_subject.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "whole" / name), pd.read_csv(tmp_path / "merged" / name))
    assert list(pd.read_csv(next((tmp_path / "lb").glob("phantom__tiny-*.csv"))).model) == ["threshold", "resunet"]
    for name in ("a", "b"):  # the committed evidence re-derives the same rows
        exported = cli("evidence", name, "--out", f"ev/{name}")
        assert exported.returncode == 0 and "2 job(s) written" in exported.stdout, exported.stderr
    assert (tmp_path / "ev" / "a" / "jobs" / "resunet" / "fold0" / "result.json.gz").is_file()
    mixed = cli("evidence", "b", "--out", "ev/a")  # one folder per run: never another run's run.json over it
    assert mixed.returncode == 2 and "holds the evidence of another run" in mixed.stderr
    again = cli("merge", "ev/a", "ev/b", "--out", "from-evidence", "--no-leaderboard")
    assert again.returncode == 0, again.stderr
    one_model = cli("merge", "ev/a", "ev/b", "--models", "resunet", "--out", "resunet-only", "--leaderboard", "lb2")
    assert one_model.returncode == 0, one_model.stderr  # a model merged on its own: its row, no other
    assert list(pd.read_csv(next((tmp_path / "lb2").glob("phantom__tiny-*.csv"))).model) == ["resunet"]
    unknown = cli("merge", "ev/a", "--models", "linknet", "--out", "none")
    assert unknown.returncode == 2 and "not among the runs' models" in unknown.stderr
    pd.testing.assert_frame_equal(one[columns], pd.read_csv(tmp_path / "from-evidence" / "summary.csv")[columns])
    other = tiny_protocol(tmp_path / "other.toml", epochs=1)
    c = cli("run", "--jobs", "threshold:0", "--protocol", other, "--out", "c", "--no-leaderboard")
    assert c.returncode == 0, c.stderr
    refused = cli("merge", "a", "c", "--out", "bad")
    assert (
        refused.returncode == 2
        and "protocol_hash" in refused.stderr
        and "only slices of one benchmark" in refused.stderr
    )
    bad_jobs = cli("run", "--jobs", "resunet:7", "--protocol", tiny, "--out", "d", "--no-leaderboard")
    assert bad_jobs.returncode == 2 and "--jobs resunet:7: no such job" in bad_jobs.stderr


def test_jobs_name_a_fold_or_one_seed_of_it_and_anything_else_is_one_clear_error() -> None:
    assert parse_jobs(" unet:0, resunet:12:seed2 ,") == [("unet", 0, None), ("resunet", 12, 2)]
    assert [job_name(*j) for j in parse_jobs("unet:0,unet:1:seed0")] == ["unet:0", "unet:1:seed0"]
    for bad in ("unet", "unet:x", ":0", "unet:0:2", "unet:0:seed", "unet:0:seedx", "unet:0:seed1:seed2"):
        with pytest.raises(RunError, match=f"--jobs '{bad}': expected MODEL:FOLD or MODEL:FOLD:seedN"):
            parse_jobs(bad)
    with pytest.raises(RunError, match="names no job"):
        parse_jobs(" , ")


@pytest.mark.slow
def test_max_minutes_stops_at_an_epoch_boundary_and_resume_finishes(tmp_path: Path, cli, tiny_protocol) -> None:
    tiny = tiny_protocol(tmp_path / "tiny.toml", epochs=3)
    args = ("run", "--models", "resunet", "--protocol", tiny, "--out", "r", "--no-leaderboard")
    stopped = cli(*args, "--max-minutes", "0.0001")
    assert stopped.returncode == 3 and "Traceback" not in stopped.stderr, stopped.stderr
    assert "stopped at the --max-minutes limit: 0 of 2 job(s) finished" in stopped.stderr
    assert "--resume" in stopped.stderr
    assert " started" not in (tmp_path / "r" / "log.txt").read_text()  # no job began, so none is logged as begun
    done = cli(*args, "--resume")
    assert done.returncode == 0, done.stderr
    history = pd.read_csv(tmp_path / "r" / "history.csv")
    assert len(history) == 2 * 3 and {"train_seconds", "val_seconds"} <= set(history.columns)


def test_a_deadline_stops_training_after_a_whole_checkpointed_epoch(tmp_path: Path, tiny_protocol) -> None:
    protocol = load_protocol(tiny_protocol(tmp_path / "tiny.toml", epochs=3))
    dataset = phantom_dataset(protocol.phantom)
    fold = make_splits(dataset, 2, 0, 0.3)[0]
    with pytest.raises(TimeLimit, match="stopped after epoch 0"):
        train(
            "resunet",
            protocol,
            0,
            dataset.subset(fold.train),
            dataset.subset(fold.val),
            torch.device("cpu"),
            tmp_path,
            deadline=time.time(),
        )
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert [h["epoch"] for h in state["history"]] == [0] and (tmp_path / "best.pt").exists()


def test_plan_counts_windows_and_flops_as_training_sees_them() -> None:
    protocol = load_protocol("quick")
    dataset = phantom_dataset(protocol.phantom)
    folds = make_splits(dataset, protocol.cv.folds, protocol.cv.seed, protocol.cv.val_fraction)
    doc = plan(["resunet", "threshold"], protocol, dataset, folds, torch.device("cpu"), calibrate=False)
    job = doc["jobs"][0]
    size, stride = protocol.windows.size, protocol.windows.stride
    train = training_windows(dataset.subset(folds[0].train), size, stride, protocol.training.seed * 1000)
    assert job["train_windows"] == len(train)
    assert (job["train_windows"], job["val_windows"], job["once_windows"]) == window_counts(protocol, dataset, folds[0])
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        create_model("resunet").eval()(torch.zeros(1, 1, size, size))
    assert job["gflop_per_window"] == pytest.approx(counter.get_total_flops() / 1e9)
    assert doc["jobs"][2]["train_windows"] == 0 and forward_gflop("threshold", protocol) == 0
    expected = protocol.training.epochs * (3 * job["train_windows"] + job["val_windows"]) + job["once_windows"]
    assert job["pflop"] == pytest.approx(expected * job["gflop_per_window"] / 1e6)
    assert doc["gpu_lower_bound_hours"]["H100"] == pytest.approx(doc["total_pflop"] * 1e3 / 989 / 3600)
    # A slice is planned as the jobs it runs: one seed of one fold is one job, not that fold once per seed.
    seeded = replace(protocol, cv=replace(protocol.cv, seeds=(0, 1, 2)))
    sliced = plan(["resunet"], seeded, dataset, folds, torch.device("cpu"), False, only={("resunet", 1, 2)})
    assert [(j["model"], j["fold"], j["seed"]) for j in sliced["jobs"]] == [("resunet", 1, 2)]


@pytest.mark.parametrize(("batch_size", "timed"), [(8, 8), (32, 16)])
def test_plan_calibrates_at_the_protocols_batch_capped(monkeypatch, batch_size: int, timed: int) -> None:
    protocol = load_protocol("quick")
    protocol = replace(protocol, training=replace(protocol.training, batch_size=batch_size))
    seen: list[int] = []

    class Recorder(torch.nn.Conv2d):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x.shape[0])
            return super().forward(x)

    monkeypatch.setattr(plan_module, "build", lambda name, protocol: Recorder(protocol.input.count, 1, 3, padding=1))
    assert plan_module.calibration_batch(protocol) == timed
    assert plan_module.seconds_per_window("recorder", protocol, torch.device("cpu"), "fp32") > 0
    assert seen == [timed] * (1 + plan_module.TIMED_STEPS)  # one warm-up step, then the timed ones
