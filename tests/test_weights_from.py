"""--weights-from: a protocol that changes only post-processing scores another run's kept weights, and its
numbers are those of training again under it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ichbench.benchmark.run import RunConfig, run
from ichbench.errors import RunError
from ichbench.leaderboard.verify import verify
from ichbench.protocol import parse_protocol

pytestmark = pytest.mark.slow  # trains 6 tiny jobs

# Epochs kept on the validation windows, so post-processing chooses nothing during training.
SELECT = '[training]\nselect = "val_soft_jaccard"\n'
FLIP = "[post]\nflip = true\nthreshold_search = true\n"


def _protocol(tiny: str, post: str = "[post]\nthreshold_search = true\n", epochs: str = "epochs = 1"):
    text = tiny.replace("[training]\n", SELECT).replace("[post]\n", post).replace("epochs = 2", epochs)
    return parse_protocol(text, "test")


def _result(out: Path, model: str, fold: int) -> dict:
    return json.loads((out / "jobs" / model / f"fold{fold}" / "result.json").read_text())


def test_weights_from_scores_kept_weights_as_training_again_would(tmp_path: Path, tiny_protocol) -> None:
    tiny = tiny_protocol(tmp_path / "tiny.toml").read_text()
    plain, flipped = _protocol(tiny), _protocol(tiny, FLIP)
    assert plain.weights_hash_for(True) == flipped.weights_hash_for(True) and plain.hash != flipped.hash
    models = ["unet", "threshold"]
    run(RunConfig(models, plain, tmp_path / "plain", leaderboard=None, progress=False))
    run(RunConfig(models, flipped, tmp_path / "trained", leaderboard=None, progress=False))
    reused = RunConfig(models, flipped, tmp_path / "reused", leaderboard=tmp_path / "lb", progress=False)
    reused.weights_from = tmp_path / "plain"
    run(reused)
    for fold in (0, 1):
        source, again, mine = (_result(tmp_path / d, "unet", fold) for d in ("plain", "trained", "reused"))
        assert mine["history"] == source["history"] and mine["best_epoch"] == source["best_epoch"]
        sha = (tmp_path / "plain" / "jobs" / "unet" / f"fold{fold}" / "best.pt.sha256").read_text().split()[0]
        assert mine["weights_from"]["sha256"] == sha and mine["weights_from"]["job"] == f"plain/unet/fold{fold}"
        assert mine["weights_from"]["code"] == source["code"]
        # Training again under the flip protocol gives the same weights, so the same curve, threshold and scores.
        curve = [(c["threshold"], c["dice"], c["jaccard"]) for r in (mine, again) for c in r["threshold_curve"]]
        half = len(curve) // 2
        assert half and [v for c in curve[:half] for v in c] == pytest.approx([v for c in curve[half:] for v in c])
        assert mine["threshold"] == again["threshold"]
        assert [s["dice_paper"] for s in mine["per_subject"]] == pytest.approx(
            [s["dice_paper"] for s in again["per_subject"]], nan_ok=True
        )
        assert mine["per_subject"] != source["per_subject"]  # the flips changed the probabilities
        assert "weights_from" not in _result(tmp_path / "reused", "threshold", fold)  # fitted again, not reused
    meta = json.loads((tmp_path / "reused" / "run.json").read_text())
    assert meta["weights_from"]["run"] == "plain" and meta["weights_from"]["protocol_hash"] == plain.hash_for(True)
    checks = verify(tmp_path / "lb")
    assert len(checks) == 2 and all(c.status == "ok" for c in checks), checks


def test_weights_from_refuses_a_run_that_trained_otherwise(tmp_path: Path, tiny_protocol) -> None:
    tiny = tiny_protocol(tmp_path / "tiny.toml").read_text()
    run(RunConfig(["threshold"], _protocol(tiny), tmp_path / "plain", leaderboard=None, progress=False))
    longer = RunConfig(["threshold"], _protocol(tiny, FLIP, "epochs = 2"), tmp_path / "b", leaderboard=None)
    longer.weights_from = tmp_path / "plain"
    with pytest.raises(RunError, match="trains differently"):
        run(longer)
    missing = RunConfig(["unet"], _protocol(tiny, FLIP), tmp_path / "c", leaderboard=None)
    missing.weights_from = tmp_path / "plain"
    with pytest.raises(RunError, match="no finished job with kept weights for unet/fold0, unet/fold1"):
        run(missing)
