"""Training recipe options: dice_bce loss, poly/cosine schedules, weight decay; each in the protocol hash."""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from ichbench.errors import ProtocolError
from ichbench.protocol import Protocol, Training, load_protocol, parse_protocol
from ichbench.training.recipe import loss_fn, lr_at, make_optimizer


def test_schedules_by_hand() -> None:
    poly, cosine, none = (Training(epochs=10, lr=1e-3, schedule=s) for s in ("poly", "cosine", "none"))
    assert lr_at(0, poly) == 1e-3 and lr_at(5, poly) == pytest.approx(1e-3 * 0.5**0.9)
    assert lr_at(5, cosine) == pytest.approx(0.5e-3) and lr_at(10, cosine) == pytest.approx(0.0, abs=1e-12)
    assert lr_at(7, none) == 1e-3


def test_dice_bce_by_hand() -> None:
    logits = torch.tensor([[0.0, 0.0], [0.0, 0.0]])  # p = 0.5 everywhere
    target = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    bce = math.log(2)  # -log(0.5) for every pixel
    dice = (2 * 0.5 + 1) / (2.0 + 1.0 + 1)  # inter 0.5, sum p 2, sum t 1, smoothed by 1
    assert float(loss_fn("dice_bce")(logits, target)) == pytest.approx(bce + 1 - dice)


def test_weight_decay_and_optimizer() -> None:
    params = [torch.nn.Parameter(torch.ones(3))]
    adamw = make_optimizer(params, Training(optimizer="adamw", weight_decay=0.01))
    assert isinstance(adamw, torch.optim.AdamW) and adamw.param_groups[0]["weight_decay"] == 0.01
    assert type(make_optimizer(params, Training())) is torch.optim.Adam


def test_fused_adam_is_the_same_update() -> None:
    # torch's one-kernel Adam: the same arithmetic as the per-tensor loop, so a few steps agree to rounding.
    torch.manual_seed(0)
    start = [torch.randn(5, 7), torch.randn(11)]
    grads = [[torch.randn_like(p) for p in start] for _ in range(3)]
    finals = []
    for fused in (False, True):
        params = [torch.nn.Parameter(p.clone()) for p in start]
        opt = make_optimizer(params, Training(lr=1e-2, weight_decay=1e-3, fused=fused))
        assert bool(opt.defaults["fused"]) is fused
        for step in grads:
            for p, g in zip(params, step):
                p.grad = g.clone()
            opt.step()
        finals.append([p.detach() for p in params])
    for loop, fused, before in zip(*finals, start):
        assert not torch.equal(loop, before)  # the steps did move the parameters
        torch.testing.assert_close(fused, loop, rtol=1e-6, atol=1e-7)


def test_every_option_is_in_the_hash_and_defaults_keep_old_hashes(committed_protocols) -> None:
    paper = committed_protocols[0]
    assert paper.hash == "e0fe5395e181"  # the committed faithful-paper table's hash, unchanged
    changed = {
        replace(paper, training=replace(paper.training, **kw)).hash
        for kw in (
            {"loss": "dice_bce"},
            {"schedule": "poly"},
            {"schedule": "cosine"},
            {"weight_decay": 1e-4},
            {"fused": True},
        )
    }
    assert len(changed) == 5 and paper.hash not in changed
    with pytest.raises(ProtocolError, match="schedule must be one of none, poly, cosine, got 'step'"):
        parse_protocol('name = "x"\n[training]\nschedule = "step"\n', "x")
    with pytest.raises(ProtocolError, match="weight_decay must be >= 0"):
        parse_protocol('name = "x"\n[training]\nweight_decay = -1.0\n', "x")


def test_a_modern_recipe_trains_and_logs_its_learning_rate(tmp_path: Path, cli, tiny_protocol) -> None:
    proto = tiny_protocol(tmp_path / "tiny.toml", epochs=2)
    recipe = 'lr = 1e-3\nloss = "dice_bce"\nschedule = "poly"\nweight_decay = 1e-4\noptimizer = "adamw"\nfused = true'
    proto.write_text(proto.read_text().replace("lr = 1e-3", recipe))
    args = ("--models", "resunet", "--jobs", "resunet:0", "--protocol", proto, "--out", "r", "--no-leaderboard")
    done = cli("run", *args)
    assert done.returncode == 0, done.stderr
    history = pd.read_csv(tmp_path / "r" / "history.csv")
    assert list(history.lr) == pytest.approx([1e-3, 1e-3 * 0.5**0.9])
    assert 'loss = "dice_bce"' in (tmp_path / "r" / "protocol.toml").read_text()


def test_flip_averages_each_window_with_its_mirror_and_only_moves_the_recipe_hash() -> None:
    import dataclasses

    import numpy as np

    from ichbench.inference.infer import window_probs

    class Ramp(torch.nn.Module):
        """Logits that grow to the right: a model that is not mirror-symmetric."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            ramp = torch.linspace(-3.0, 3.0, x.shape[-1])
            return x[:, :1] * 0 + ramp

    base = parse_protocol('name = "p"\n[windows]\nsize = 16\nstride = 8\n[metrics]\nresolution = "native"\n', "p")
    flipped = dataclasses.replace(base, post=dataclasses.replace(base.post, flip=True))
    image = np.zeros((1, 32, 32), np.uint8)
    plain, _ = window_probs(Ramp(), image, base, torch.device("cpu"))
    tta, _ = window_probs(Ramp(), image, flipped, torch.device("cpu"))
    np.testing.assert_allclose(tta, (plain + plain[..., ::-1]) / 2, rtol=1e-6)  # by hand: the mirror's mean
    np.testing.assert_allclose(tta, 0.5, atol=1e-6)  # a ramp and its mirror average to a flat 0.5
    assert flipped.test_hash == base.test_hash and flipped.recipe_hash != base.recipe_hash
    assert parse_protocol('name = "p"\n[post]\nflip = false\n', "p").hash == parse_protocol('name = "p"\n', "p").hash


def _differences(a: Protocol, b: Protocol) -> dict[str, dict]:
    """Section -> {key: value in b} for every key where b differs from a."""
    out = {}
    for section in ("data", "input", "cv", "windows", "augmentation", "training", "post", "metrics"):
        x, y = asdict(getattr(a, section)), asdict(getattr(b, section))
        changed = {k: y[k] for k in x if x[k] != y[k]}
        if changed:
            out[section] = changed
    return out


def test_extends_overrides_its_base_key_by_key(tmp_path: Path) -> None:
    (tmp_path / "base.toml").write_text('extends = "cpu"\nname = "b"\n[training]\nepochs = 9\n[models.unet]\nx = 1\n')
    (tmp_path / "child.toml").write_text('extends = "base.toml"\nname = "c"\n[training]\nloss = "dice_bce"\n')
    child, cpu = load_protocol(tmp_path / "child.toml"), load_protocol("cpu")
    assert child.name == "c" and _differences(cpu, child) == {"training": {"epochs": 9, "loss": "dice_bce"}}
    assert child.models == {**cpu.models, "unet": {"x": 1}} and child.test_hash == cpu.test_hash
    (tmp_path / "loop.toml").write_text('extends = "loop.toml"\nname = "l"\n')
    with pytest.raises(ProtocolError, match="without cycles"):
        load_protocol(tmp_path / "loop.toml")
    with pytest.raises(ProtocolError, match="neither a preset nor a file"):
        parse_protocol('extends = "nowhere"\nname = "n"\n', "t.toml", tmp_path)


LADDER = {
    "ladder-1-dicebce": {"training": {"loss": "dice_bce"}},
    "ladder-2-poly12": {"training": {"epochs": 12, "schedule": "poly"}},
    "ladder-3-bone": {"input": {"channels": ("brain", "bone")}},
    "ladder-4-context": {"input": {"context": 1}},
    "ladder-5-foreground": {"windows": {"foreground": 0.33}},
    "ladder-6-flip": {"post": {"flip": True}},
}


def test_the_second_ladder_and_the_lesion_rung_each_add_one_change() -> None:
    steps = [
        ("ladder-2-poly12", "ladder2-1-flip", {"post": {"flip": True}}),
        ("ladder2-1-flip", "ladder2-2-fresh", {"windows": {"negatives": "epoch"}}),
        ("ladder2-2-fresh", "ladder2-3-norm", {"input": {"normalise": "scan"}}),
        ("ladder2-3-norm", "ladder2-4-epochs24", {"training": {"epochs": 24}}),
        (
            "ladder2-4-epochs24",
            "ladder2-5-grid",
            {"post": {"threshold_grid": tuple(round(0.05 * k, 2) for k in range(1, 20))}},
        ),
    ]
    for below, name, change in steps:
        rung = load_protocol(name)
        assert rung.test_hash == load_protocol("cpu").test_hash and _differences(load_protocol(below), rung) == change
    for below, name in (("ladder-6-flip", "ladder-6-lesions"), ("ladder2-6-pooled", "ladder2-7-lesions")):
        lesions = _differences(load_protocol(below), load_protocol(name))
        assert set(lesions) == {"post"} and lesions["post"]["lesion_search"] is True  # scores the weights below
    same = _differences(load_protocol("ladder-6-lesions"), load_protocol("ladder2-7-lesions"))
    assert not any(key.startswith("lesion_") for key in same["post"])  # the same stage as the first ladder's


def test_each_ladder_rung_adds_one_change_to_the_rung_below_under_the_cpu_test() -> None:
    below = load_protocol("cpu")
    for name, change in LADDER.items():
        rung = load_protocol(name)
        assert rung.name == name and rung.test_hash == below.test_hash
        assert _differences(below, rung) == change, name
        below = rung
