"""Downsampling on load ([data] scale): counts, spacing, the at-least-half mask rule, the cpu protocol."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ichbench.data.load import load_dataset
from ichbench.data.scale import downsample_image, downsample_mask, factor
from ichbench.errors import DataError, ProtocolError
from ichbench.protocol import load_protocol, parse_protocol


def test_blocks_by_hand() -> None:
    image = np.array([[[0, 2, 10, 10], [4, 6, 10, 11], [255, 255, 0, 0], [255, 254, 0, 1]]], np.uint8)
    assert downsample_image(image, 2).tolist() == [[[3, 10], [255, 0]]]  # 254.75 -> 255, 10.25 -> 10, 0.25 -> 0
    mask = np.array([[[1, 1, 1, 0], [0, 0, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0]]], np.uint8)
    assert downsample_mask(mask, 2).tolist() == [[[1, 0], [1, 0]]]  # 2 of 4 is kept, 1 of 4 is not
    assert (factor(0.25), factor(1.0), factor(0.5)) == (4, 1, 2)
    with pytest.raises(DataError, match="scale 0.3"):
        factor(0.3)


def test_a_downsampled_phantom_keeps_counts_and_scales_spacing(phantom_nifti: Path) -> None:
    full = load_dataset(phantom_nifti)
    half = load_dataset(phantom_nifti, scale=0.5)
    assert half.fingerprint == full.fingerprint and half.ids == full.ids
    for a, b in zip(full.subjects, half.subjects):
        assert b.image.shape == (a.image.shape[0], a.image.shape[1] // 2, a.image.shape[2] // 2)
        assert b.spacing == (a.spacing[0], a.spacing[1] * 2, a.spacing[2] * 2)
        np.testing.assert_array_equal(b.labels, a.labels)
        np.testing.assert_array_equal(b.mask, downsample_mask(a.mask, 2))
    again = load_dataset(phantom_nifti, scale=0.5)  # from the cache, its own entry
    np.testing.assert_array_equal(again.subjects[0].image, half.subjects[0].image)
    with pytest.raises(DataError, match="cannot be downsampled by 3"):
        load_dataset(phantom_nifti, scale=1 / 3)  # 80 px slices


def test_the_cpu_protocol_loads_hashes_and_validates() -> None:
    cpu = load_protocol("cpu")
    assert (cpu.data.scale, cpu.data.exclude, cpu.windows.size, cpu.training.select) == (
        0.25,
        ("070",),
        64,
        "val_soft_jaccard",
    )
    assert cpu.hash != load_protocol("paper").hash
    assert parse_protocol(cpu.to_toml(), "x") == cpu
    bad = cpu.to_toml().replace("scale = 0.25", "scale = 0.3")
    with pytest.raises(ProtocolError, match=r"\[data\] scale must be 1 / n"):
        parse_protocol(bad, "x")


@pytest.mark.slow
def test_one_epoch_of_a_downsampled_protocol_runs_on_a_small_phantom(tmp_path: Path, cli) -> None:
    text = load_protocol("cpu").to_toml()
    for old, new in (
        ("subjects = 20", "subjects = 6"),
        ("slices = 24", "slices = 4"),
        ("size = 640", "size = 128"),
        ("epochs = 6", "epochs = 1"),
        ("folds = 5", "folds = 2"),
        ("size = 64", "size = 32"),
        ("stride = 32", "stride = 16"),
        ("val_fraction = 0.2", "val_fraction = 0.3"),
    ):
        assert old in text
        text = text.replace(old, new, 1)
    (tmp_path / "small.toml").write_text(text.replace('name = "cpu"', 'name = "cpu-small"'))
    run = cli(
        "run", "--models", "resunet,threshold", "--protocol", "small.toml", "--out", "r", "--no-leaderboard", "--json"
    )
    assert run.returncode == 0, run.stderr
    assert {m["model"] for m in json.loads(run.stdout)["models"]} == {"resunet", "threshold"}
    checked = cli("data", "check", tmp_path / "nowhere", "--protocol", "small.toml")
    assert checked.returncode == 2 and "no such data folder" in checked.stderr
