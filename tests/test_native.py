"""The native test: a recipe that trains on downsampled slices is scored at the data set's own size."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from ichbench.data.phantom.dataset import phantom_dataset
from ichbench.evaluation.scoring import score_subjects
from ichbench.inference.infer import predict_masks, upsample
from ichbench.protocol import PhantomSpec, load_protocol, parse_protocol

CPU = torch.device("cpu")


class Sharp(torch.nn.Module):
    """A 'model' whose probability is its input: logit +20 where the input is 255, -20 where it is 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x[:, :1] - 0.5) * 40.0


def _protocol(size: int, stride: int, close: int = 0, open_: int = 0):
    p = load_protocol("quick")
    post = dataclasses.replace(p.post, close=close, open=open_, weighting="mean")
    return dataclasses.replace(p, windows=dataclasses.replace(p.windows, size=size, stride=stride), post=post)


def test_upsampling_is_opencv_bilinear() -> None:
    maps = np.random.default_rng(0).random((3, 40, 40), dtype=np.float32)
    for shape in ((160, 160), (128, 96)):
        ours = upsample(maps, shape)
        ref = np.stack([cv2.resize(m, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR) for m in maps])
        np.testing.assert_allclose(ours, ref, atol=1e-5)  # OpenCV rounds its weights for non-integer ratios


def test_upsample_then_post_process_on_a_hand_made_case(opencv_binarize) -> None:
    low = np.zeros((1, 1, 4, 4), np.uint8)
    low[0, 0, 1:3, 1:3] = 255  # one confident 2 x 2 block at 4 x 4
    mask = predict_masks(Sharp(), low, _protocol(4, 4), CPU, 0.5, shape=(16, 16))
    # By hand: upsampled 4x with half-pixel centres, a column c of 4..11 weighs the block by
    # .625 .875 1 1 1 1 .875 .625; the product exceeds 0.5 except where both factors are .625: the
    # 8 x 8 block at rows and columns 4..11 less its four corners.
    want = np.zeros((16, 16), np.uint8)
    want[4:12, 4:12] = 1
    want[[4, 4, 11, 11], [4, 11, 4, 11]] = 0
    np.testing.assert_array_equal(mask[0], want)
    # With morphology: the same map, closed and opened at native size as OpenCV does it.
    closed = predict_masks(Sharp(), low, _protocol(4, 4, close=3, open_=2), CPU, 0.5, shape=(16, 16))
    probs = np.where(low[:, 0] == 255, 1 / (1 + np.exp(-20.0)), 1 / (1 + np.exp(20.0))).astype(np.float32)
    native = upsample(probs, (16, 16))
    np.testing.assert_array_equal(closed[0], opencv_binarize(native[0], 0.5, 3, 2))


def test_a_perfect_low_resolution_predictor_loses_exactly_the_quantisation(tmp_path) -> None:
    spec = PhantomSpec(subjects=3, slices=4, size=128, seed=2)
    subjects = phantom_dataset(spec, cache_dir=tmp_path, scale=0.5).subjects
    protocol = _protocol(32, 16)
    protocol = dataclasses.replace(protocol, metrics=dataclasses.replace(protocol.metrics, resolution="native"))
    # The model sees the downsampled truth itself: perfect at 64 px.
    oracle = [dataclasses.replace(s, image=s.mask * np.uint8(255)) for s in subjects]
    scores = score_subjects(Sharp(), oracle, protocol, CPU, 0.5, {"model": "oracle"})
    tp = sum(r["tp"] for r in scores.per_slice)
    fp = sum(r["fp"] for r in scores.per_slice)
    fn = sum(r["fn"] for r in scores.per_slice)
    assert all(r["tp"] + r["fp"] + r["fn"] + r["tn"] == 128 * 128 for r in scores.per_slice)
    # Independently: OpenCV's bilinear upsampling of the 64-px mask, thresholded, against the 128-px truth.
    truth = np.concatenate([s.native_mask for s in subjects]).astype(bool)
    low = np.concatenate([s.mask for s in subjects]).astype(np.float32)
    pred = np.stack([cv2.resize(m, (128, 128), interpolation=cv2.INTER_LINEAR) > 0.5 for m in low])
    want = 2 * (pred & truth).sum() / (pred.sum() + truth.sum())
    dice = 2 * tp / (2 * tp + fp + fn)
    assert dice == pytest.approx(want, abs=1e-12) and 0.8 < dice < 1.0


TEST_CHANGES = ("[cv]\nseed = 1\n", '[data]\nexclude = ["049"]\n', "[metrics]\ndetection_pixels = 9\n")
RECIPE_CHANGES = ("[data]\nscale = 0.5\n", "[training]\nepochs = 7\n", "[post]\nclose = 3\n", "[windows]\nsize = 96\n")


def test_a_recipe_change_keeps_the_test_hash_and_a_test_change_moves_it() -> None:
    native = 'name = "p"\n[metrics]\nresolution = "native"\n'
    base = parse_protocol(native, "p.toml")
    for change in RECIPE_CHANGES:
        other = parse_protocol(_merge(native, change), "p.toml")
        assert other.test_hash == base.test_hash and other.recipe_hash != base.recipe_hash, change
    for change in TEST_CHANGES:
        other = parse_protocol(_merge(native, change), "p.toml")
        assert other.test_hash != base.test_hash and other.recipe_hash == base.recipe_hash, change
    scaled = parse_protocol('name = "p"\n', "p.toml")
    assert scaled.test_hash != base.test_hash  # the resolution is part of the test
    assert scaled.table_hashes(False) == {"test_hash": "", "recipe_hash": ""}  # old protocols keep their tables
    paper, cpu = load_protocol("paper"), load_protocol("cpu")
    assert paper.test_hash == cpu.test_hash and paper.recipe_hash != cpu.recipe_hash


def _merge(base: str, change: str) -> str:
    """A protocol text with one more table (or keys added to the [metrics] table the base already has)."""
    if change.startswith("[metrics]"):
        return base + change.split("\n", 1)[1]
    return base + change


QUARTER = """
name = "quarter"
description = "a cpu-like recipe on the phantom: trained at a quarter of the resolution, scored natively"
[data]
scale = 0.25
[phantom]
subjects = 10
slices = 4
size = 256
seed = 3
[cv]
folds = 2
val_fraction = 0.3
[windows]
size = 32
stride = 16
[training]
epochs = 8
batch_size = 8
lr = 1e-3
loss = "dice_bce"
select = "last"
[post]
threshold = 0.5
close = 8
open = 4
[metrics]
detection_pixels = 64
resolution = "native"
[models.resunet]
width = 8
"""


def _quarter_copy(src: Path, dst: Path, f: int = 4) -> None:
    """A JPG-layout folder at 1/f of the size: images by block means, masks where half a block is blood."""
    from PIL import Image

    from ichbench.data.readers.ctich_jpg import CROP
    from ichbench.data.readers.imageio import write_gray
    from ichbench.data.scale import downsample_image, downsample_mask

    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.suffix != ".jpg":
            target.write_bytes(path.read_bytes())
        else:
            pixels = np.asarray(Image.open(path).convert("L"))[None, CROP:-CROP, CROP:-CROP]  # the border, as read
            small = downsample_mask(pixels > 127, f) * 255 if "Seg" in path.name else downsample_image(pixels, f)
            write_gray(target, np.pad(small[0], CROP))


@pytest.mark.slow
def test_one_bundle_scores_alike_at_its_own_size_and_at_native_size(tmp_path: Path, cli) -> None:
    (tmp_path / "quarter.toml").write_text(QUARTER)
    env = {"ICHBENCH_CACHE": str(tmp_path / "cache")}
    run = cli("run", "--models", "resunet", "--protocol", "quarter.toml", "--out", "run", "--no-leaderboard", env=env)
    assert run.returncode == 0, run.stderr
    assert cli("export", "run", "--model", "resunet", "--folds", "0", "--out", "bundle").returncode == 0
    native = next((tmp_path / "cache").glob("phantom-v*-10x4x256-seed3"))
    _quarter_copy(native, tmp_path / "small")
    dice = {}
    for name, folder in (("native", native), ("small", tmp_path / "small")):
        out = cli("evaluate", "bundle", "--data", folder, "--out", name, "--no-leaderboard", "--device", "cpu", env=env)
        assert out.returncode == 0, out.stderr
        slices = pd.read_csv(tmp_path / name / "per_slice.csv")
        side = 256 if name == "native" else 64
        assert (slices[["tp", "fp", "fn", "tn"]].sum(axis=1) == side * side).all()  # scored at the folder's size
        dice[name] = float(pd.read_csv(tmp_path / name / "summary.csv")["dice_paper"].iloc[0])
    # A weak model (8 epochs on 10 phantom subjects) that does find lesions, scored alike at both sizes.
    assert dice["native"] > 0.1 and abs(dice["native"] - dice["small"]) < 0.02, dice
