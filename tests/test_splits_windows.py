"""Folds, training windows, the sampler and the augmentation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ichbench.data import Dataset, Subject, load_dataset
from ichbench.data.splits import load_splits, make_splits, save_splits
from ichbench.errors import DataError
from ichbench.protocol import Augmentation
from ichbench.training.augment import augment, random_affines
from ichbench.training.windows import WindowSampler, gather_torch, training_windows


def _subject(sid: str, positive_slices: list[int], n: int = 4, size: int = 64) -> Subject:
    rng = np.random.default_rng(abs(hash(sid)) % 1000)
    mask = np.zeros((n, size, size), np.uint8)
    for z in positive_slices:
        mask[z, 10:20, 40:50] = 1
    labels = np.zeros((n, 7), np.uint8)
    labels[:, 5] = ~mask.reshape(n, -1).any(1)
    image = rng.integers(0, 255, (n, size, size), dtype=np.uint8)
    return Subject(sid, image, mask, labels, np.arange(1, n + 1))


def _dataset(n_pos: int = 8, n_neg: int = 12) -> Dataset:
    subjects = [_subject(f"p{i}", [1, 2]) for i in range(n_pos)] + [_subject(f"n{i}", []) for i in range(n_neg)]
    return Dataset("toy", "folder", "f" * 64, subjects)


def test_folds_partition_subjects_and_spread_positives() -> None:
    ds = _dataset()
    folds = make_splits(ds, k=5, seed=1)
    tests = [set(f.test) for f in folds]
    assert set().union(*tests) == set(ds.ids) and sum(map(len, tests)) == len(ds.ids)
    assert [sum(s.startswith("p") for s in t) for t in tests] == [2, 2, 2, 1, 1]
    for f in folds:
        assert not set(f.test) & (set(f.train) | set(f.val))
        assert set(f.val) <= set(ds.ids) and not set(f.val) & set(f.train)
        assert any(s.startswith("p") for s in f.val)  # best-epoch selection needs a positive subject
    assert make_splits(ds, k=5, seed=1) == folds and make_splits(ds, k=5, seed=2) != folds


def test_split_file_round_trip_and_validation(tmp_path: Path) -> None:
    ds = _dataset()
    folds = make_splits(ds, k=4, seed=0)
    save_splits(tmp_path / "splits.json", folds, ds, seed=0)
    assert load_splits(tmp_path / "splits.json", ds) == folds
    doc = json.loads((tmp_path / "splits.json").read_text())
    doc["folds"][0]["test"].append("ghost")
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(DataError, match="bad.json: fold 0 names unknown subject"):
        load_splits(tmp_path / "bad.json", ds)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(DataError, match="broken.json: not a valid split file"):
        load_splits(tmp_path / "broken.json")


def test_training_windows_follow_the_papers_undersampling() -> None:
    subjects = [_subject("p", [1, 2]), _subject("n", [])]
    ws = training_windows(subjects, size=32, stride=16, seed=0)
    # The lesion (rows 10:20, cols 40:50) lies in the windows at r in {0, 16}, c in {16, 32}.
    slots = {}
    for slot, r, c in ws.index.tolist():
        slots.setdefault(slot, []).append((r, c))
    assert len(ws.images) == 4  # 2 positive slices + 1 negative slice of each subject
    positive = [v for v in slots.values() if len(v) == 4]
    assert len(positive) == 2 and all(sorted(v) == [(0, 16), (0, 32), (16, 16), (16, 32)] for v in positive)
    assert sorted(len(v) for v in slots.values()) == [4, 4, 9, 9]  # negatives keep all 3x3 windows
    for slot, r, c in ws.index.tolist():
        window = ws.masks[slot][r : r + 32, c : c + 32]
        assert window.any() or len(slots[slot]) == 9
    again = training_windows(subjects, size=32, stride=16, seed=0)
    assert np.array_equal(again.index, ws.index)


def test_fresh_negatives_draw_a_new_healthy_slice_each_epoch_at_the_same_cost() -> None:
    subjects = [_subject("p", [1, 2], n=12), _subject("n", [], n=12)]
    once = training_windows(subjects, size=32, stride=16, seed=0)
    fresh = training_windows(subjects, size=32, stride=16, seed=0, fresh=True)
    assert len(fresh) == len(once) == 2 * 4 + 2 * 9  # positives' lesion windows, one negative grid per subject
    assert len(fresh.images) == 2 + 10 + 12  # the stacks hold every negative slice to draw from
    assert np.array_equal(fresh.index, once.index[: len(fresh.index)])  # the positives' windows are the same
    drawn = []
    for epoch in range(8):
        rows = fresh.rows(seed=3, epoch=epoch)
        assert len(rows) == len(fresh) and np.array_equal(rows, fresh.rows(seed=3, epoch=epoch))
        negative = rows[len(fresh.index) :]
        per_subject = [set(negative[i * 9 : (i + 1) * 9, 0].tolist()) for i in range(2)]
        assert all(len(slots) == 1 for slots in per_subject)  # all 9 windows of one slice per subject
        assert not any(fresh.masks[slot].any() for slots in per_subject for slot in slots)
        assert sorted(map(tuple, negative[:9, 1:].tolist())) == sorted(map(tuple, once.index[-9:, 1:].tolist()))
        drawn.append(tuple(min(slots) for slots in per_subject))
    assert len(set(drawn)) > 4  # new healthy slices, not the same one every epoch
    sampler = WindowSampler(fresh, batch_size=4, seed=3)
    assert sum(len(m) for _, m in sampler.epoch(1)) == len(fresh) and sampler.cut(fresh.rows(3, 1))[0].shape[0] == 26


def test_sampler_cuts_the_right_pixels_and_is_deterministic_per_epoch() -> None:
    subjects = [_subject("p", [1, 2]), _subject("q", [0])]
    ws = training_windows(subjects, size=32, stride=16, seed=0)
    sampler = WindowSampler(ws, batch_size=5, seed=3)
    seen = 0
    for images, _masks in sampler.epoch(0):
        assert images.shape[1:] == (1, 32, 32) and images.dtype == torch.uint8
        seen += len(images)
    assert seen == len(ws) and len(sampler) == -(-len(ws) // 5)
    odd = WindowSampler(ws, batch_size=len(ws) - 1, seed=0)  # would leave a batch of one
    assert len(odd) == 1 and [len(b[0]) for b in odd.epoch(0)] == [len(ws) - 1]
    rows = ws.index[:3]
    images, masks = sampler.cut(rows)
    for i, (slot, r, c) in enumerate(rows.tolist()):
        assert torch.equal(images[i, 0], ws.images[slot, 0][r : r + 32, c : c + 32])
        assert torch.equal(masks[i, 0], ws.masks[slot][r : r + 32, c : c + 32])
    gathered = gather_torch(ws.images, ws.masks, ws.index, 32)  # the GPU path, run on the CPU
    everything = sampler.cut(ws.index)
    assert torch.equal(gathered[0], everything[0]) and torch.equal(gathered[1], everything[1])
    first = [m.sum().item() for _, m in sampler.epoch(1)]
    assert first == [m.sum().item() for _, m in sampler.epoch(1)]


def test_augmentation_moves_image_and_mask_together() -> None:
    g = torch.Generator().manual_seed(0)
    image = torch.zeros((8, 1, 64, 64))
    image[:, :, 20:40, 25:45] = 1.0
    out_img, out_mask = augment(image, image.clone(), Augmentation(), g)
    assert set(out_mask.unique().tolist()) <= {0.0, 1.0}  # nearest keeps the mask binary
    agree = ((out_img > 0.5) == (out_mask > 0.5)).float().mean()
    assert agree > 0.99
    assert not torch.equal(out_mask, image)  # something moved


def test_affine_ranges_follow_keras() -> None:
    g = torch.Generator().manual_seed(1)
    m = random_affines(4000, Augmentation(rotation=20, shift=0.1, shear=0, zoom=0), g)
    angles = torch.atan2(m[:, 1, 0], m[:, 0, 0]).rad2deg()
    assert angles.abs().max() <= 20.0 + 1e-4 and angles.abs().max() > 19
    # Keras composes rotation @ shift, so the shift vector is rotated: its length stays <= 0.1 * sqrt(2).
    shifts = m[:, :, 2].norm(dim=1) / 2  # normalised units -> fraction of the window
    assert shifts.max() <= 0.1 * 2**0.5 + 1e-6 and shifts.max() > 0.12
    identity = random_affines(3, Augmentation(0, 0, 0, 0), g)
    assert torch.allclose(identity, torch.eye(3)[:2].expand(3, 2, 3))


def test_phantom_has_negative_subjects_and_blood_in_band(phantom_jpg: Path) -> None:
    from ichbench.data.phantom.write import generate

    vols = generate(10, 8, 128, seed=0)
    negatives = sum(not v.mask.any() for v in vols)
    assert negatives == 4  # 40 percent
    blood = np.concatenate([v.hu[v.mask > 0] for v in vols if v.mask.any()])
    assert 50 < np.median(blood) < 90
    assert {k for v in vols for k in np.flatnonzero(v.labels[:, :5].any(0))}  # some subtype labelled
    assert np.array_equal(generate(2, 3, 64, seed=5)[1].hu, generate(2, 3, 64, seed=5)[1].hu)
    ds = load_dataset(phantom_jpg)
    assert sum(s.has_hemorrhage for s in ds.subjects) == 3  # 5 subjects, 2 without


def test_foreground_oversampling_centres_a_share_of_each_batch_on_hemorrhage() -> None:
    big = _subject("p", [1, 2])
    small = _subject("s", [0], size=48)
    small.mask[0] = 0
    small.mask[0, 40:46, 40:46] = 1  # near the corner of a slice smaller than the stacks' padded size
    ws = training_windows([big, small], size=32, stride=16, seed=0)
    plain, over = WindowSampler(ws, 8, seed=3), WindowSampler(ws, 8, seed=3, foreground=0.5)
    assert len(over) == len(plain)  # an epoch costs the same
    shapes = ws.slot_shapes()
    for base in np.array_split(ws.index, 3):
        rows, n = over.oversample(base, np.random.default_rng(0)), round(0.5 * len(base))
        assert np.array_equal(rows[n:], base[n:])  # the rest of the batch is the paper's grid, in order
        for slot, r, c in rows[:n].tolist():
            assert 0 <= r <= shapes[slot, 0] - 32 and 0 <= c <= shapes[slot, 1] - 32  # never in the padding
            assert ws.masks[slot][r : r + 32, c : c + 32].any()
    same = [m.sum().item() for _, m in WindowSampler(ws, 8, seed=3, foreground=0.0).epoch(2)]
    assert same == [m.sum().item() for _, m in plain.epoch(2)]  # foreground = 0: the batches as before
    hits = sum(bool(m[: round(0.5 * len(m))].flatten(1).any(1).all()) for _, m in over.epoch(2))
    assert hits == len(over)
