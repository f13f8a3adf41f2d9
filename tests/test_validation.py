"""Validation and best-epoch selection against hand-computed cases; exclusion; the original detection rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from ichbench.data.dataset import LABELS, Dataset, Subject
from ichbench.data.phantom.dataset import phantom_dataset
from ichbench.data.splits import make_splits
from ichbench.protocol import load_protocol
from ichbench.training.train import train
from ichbench.training.validation import improves, validate_windows
from ichbench.training.windows import WindowSet, select_windows


class Half(torch.nn.Module):
    """Probability 0.5 everywhere (logit 0)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x[:, :1])


def _windows() -> WindowSet:
    masks = torch.zeros(2, 4, 4, dtype=torch.uint8)
    masks[0, :2, :2] = 1  # 4 of 16 pixels
    masks[1] = 1  # 16 of 16
    return WindowSet(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), masks, np.array([[0, 0, 0], [1, 0, 0]]), 4)


def test_soft_jaccard_loss_as_keras_computes_it_by_hand() -> None:
    cpu = torch.device("cpu")
    # One window a batch. Window 0: sum(y p) = 4 x 0.5 = 2; union = 4 x 1 + 12 x 0.5 = 10 -> 1 - 2/10 = 0.8.
    # Window 1: 16 x 0.5 = 8 over 16 -> 0.5. Keras averages the batches weighted by size: 0.65.
    bce, soft = validate_windows(Half(), _windows(), batch_size=1, device=cpu)
    assert soft == pytest.approx(0.65) and bce == pytest.approx(np.log(2))
    # Both in one batch: 1 - (2 + 8) / (10 + 16).
    assert validate_windows(Half(), _windows(), batch_size=2, device=cpu)[1] == pytest.approx(1 - 10 / 26)


def test_best_epoch_ties_keep_the_earlier_epoch_for_the_keras_monitor_and_the_later_otherwise() -> None:
    def best(scores: list[float], select: str) -> int:
        kept, top = -1, -np.inf
        for epoch, score in enumerate(scores):
            if improves(score, top, select):
                kept, top = epoch, score
        return kept

    losses = [0.5, 0.4, 0.4, 0.45]  # val_jaccard_loss: lower is better, scored as -loss
    assert best([-x for x in losses], "val_soft_jaccard") == 1
    assert best([0.2, 0.3, 0.3, float("nan")], "val_jaccard") == 2
    assert best([0.5, 0.1, float("nan"), 0.9], "last") == 3


def test_select_last_keeps_the_final_epoch_and_still_records_the_validation_loss(tmp_path: Path, tiny_protocol) -> None:
    path = tiny_protocol(tmp_path / "tiny.toml", epochs=3)
    path.write_text(path.read_text().replace("lr = 1e-3", 'lr = 1e-3\nselect = "last"'))
    protocol = load_protocol(path)
    dataset = phantom_dataset(protocol.phantom)
    fold = make_splits(dataset, 2, 0, 0.3)[0]
    args = (protocol, 0, dataset.subset(fold.train), dataset.subset(fold.val), torch.device("cpu"), tmp_path)
    trained = train("resunet", *args)
    assert trained.best_epoch == 2 and all(0 <= h["val_jaccard_loss"] <= 1 for h in trained.history)
    final = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["model"]
    kept = torch.load(tmp_path / "best.pt", weights_only=True)
    state = trained.model.state_dict()
    assert all(torch.equal(final[k], kept[k]) and torch.equal(final[k], v) for k, v in state.items())


def _subject(sid: str, lesion: bool) -> Subject:
    mask = np.zeros((3, 8, 8), np.uint8)
    if lesion:
        mask[1, 0:2, 0:2] = 1  # only the top-left 4 x 4 window (stride 4) holds blood
    labels = np.zeros((3, len(LABELS)), np.uint8)
    labels[:, LABELS.index("No_Hemorrhage")] = ~mask.reshape(3, -1).any(1)
    return Subject(sid, np.zeros((3, 8, 8), np.uint8), mask, labels, np.arange(1, 4))


def test_validation_windows_are_the_positive_windows_only() -> None:
    subjects = [_subject("001", True), _subject("002", False)]
    picked, rows = select_windows(subjects, 4, 4, seed=0, negatives=False)
    assert [(s.id, z) for s, z in picked] == [("001", 1)] and rows == [(0, 0, 0)]
    picked, rows = select_windows(subjects, 4, 4, seed=0)  # training: plus one negative slice each, all 4 windows
    assert len(picked) == 3 and len(rows) == 1 + 4 + 4


def test_exclusion_removes_subjects_and_keeps_the_fingerprint() -> None:
    ds = Dataset("d", "folder", "f" * 64, [_subject("001", True), _subject("070", True)])
    kept = ds.without(("070", "999"))
    assert kept.ids == ["001"] and kept.excluded == ("070",) and kept.fingerprint == ds.fingerprint
    assert ds.without(("999",)) is ds


@pytest.mark.slow
def test_a_run_excludes_the_protocol_subjects_before_the_folds(tmp_path: Path, cli, tiny_protocol) -> None:
    tiny = tiny_protocol(tmp_path / "tiny.toml", epochs=1)
    tiny.write_text(tiny.read_text().replace("[phantom]", '[data]\nexclude = ["002", "999"]\n[phantom]'))
    run = cli("run", "--models", "threshold-fixed", "--protocol", tiny, "--out", "r", "--no-leaderboard")
    assert run.returncode == 0, run.stderr
    meta = json.loads((tmp_path / "r" / "run.json").read_text())
    assert meta["excluded"] == ["002"]
    splits = json.loads((tmp_path / "r" / "splits.json").read_text())
    assert "002" not in {s for f in splits["folds"] for part in ("train", "val", "test") for s in f[part]}
    subjects = set(pd.read_csv(tmp_path / "r" / "per_subject.csv", dtype={"subject": str}).subject)
    assert "002" not in subjects and len(subjects) == 5
    fitted = json.loads((tmp_path / "r" / "jobs" / "threshold-fixed" / "fold0" / "result.json").read_text())["fitted"]
    assert fitted == {"low": 140.0, "high": 230.0}  # the paper's band, never fitted


def test_the_progress_line_names_the_monitor_of_the_select_rule(caplog: pytest.LogCaptureFixture) -> None:
    from ichbench.progress import Reporter

    with caplog.at_level("INFO", logger="ichbench"), Reporter(enabled=False) as reporter:
        reporter.job_started("unet/fold0", 2)
        reporter.epoch_done("unet/fold0", {"epoch": 0, "train_loss": 0.5, "val_jaccard_loss": 0.75})
        reporter.epoch_done("unet/fold0", {"epoch": 1, "train_loss": 0.4, "val_jaccard": 0.25})
    assert "val J loss 0.750" in caplog.text and "val J 0.250" in caplog.text


class Brightness(torch.nn.Module):
    """The input's grey level as the probability (logit of x), so a bright pixel is a confident one."""

    morphology = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.logit(x[:, :1].clamp(1e-4, 1 - 1e-4))


def test_the_pooled_threshold_objective_pays_for_false_positives_on_healthy_scans() -> None:
    """A bleed at grey 200 (p 0.78) and, in a hemorrhage-free subject, a 10 x 10 patch at 150 (p 0.59):
    by hand, the paper's Jaccard is 1 at both thresholds (ties go low: 0.5), the pooled one 100 / 200 at 0.5
    and 1 at 0.7."""
    from ichbench.protocol import parse_protocol
    from ichbench.training.validation import best_point, validate_slices

    def subject(sid: str, value: int, bleed: bool) -> Subject:
        image = np.zeros((1, 32, 32), np.uint8)
        image[0, 5:15, 5:15] = value
        mask = (image > 0).astype(np.uint8) if bleed else np.zeros_like(image)
        return Subject(sid, image, mask, np.zeros((1, len(LABELS)), np.uint8), np.array([1]))

    subjects = [subject("sick", 200, True), subject("healthy", 150, False)]
    text = "name = 'v'\n[windows]\nsize = 32\nstride = 32\n[post]\nthreshold_grid = [0.5, 0.7]\nclose = 0\nopen = 0\n"
    paper = parse_protocol(text, "v.toml")
    pooled = parse_protocol(text + "threshold_objective = 'pooled'\n", "v.toml")
    _, _, curve = validate_slices(Brightness(), subjects, paper, torch.device("cpu"))
    assert [c["jaccard"] for c in curve] == [1.0, 1.0] and "pooled_jaccard" not in curve[0]
    assert best_point(curve)["threshold"] == 0.5
    _, _, curve = validate_slices(Brightness(), subjects, pooled, torch.device("cpu"))
    assert [c["jaccard"] for c in curve] == [1.0, 1.0]  # the paper's points are unchanged
    assert [c["pooled_jaccard"] for c in curve] == [0.5, 1.0]
    assert [c["pooled_dice"] for c in curve] == [pytest.approx(200 / 300), 1.0]
    assert best_point(curve, "pooled")["threshold"] == 0.7 and best_point(curve)["threshold"] == 0.5
