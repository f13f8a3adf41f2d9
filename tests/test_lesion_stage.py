"""The lesion stage of the C++ core (ichbench.post.label, components, filter_lesions): its components against
OpenCV and scipy on fuzzed masks, bit for bit, and its statistics and filters against hand computations."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from ichbench import post
from ichbench.errors import PostError, ProtocolError
from ichbench.inference.infer import predict_masks
from ichbench.protocol import Protocol, load_protocol, parse_protocol

masks = st.builds(
    lambda seed, shape, density: (np.random.default_rng(seed).random(shape) < density).astype(np.uint8),
    st.integers(0, 2**32 - 1),
    st.tuples(st.integers(1, 4), st.integers(1, 48), st.integers(1, 96)),
    st.floats(0.0, 0.8),
)


@settings(max_examples=150, deadline=None)
@given(mask=masks)
def test_components_across_slices_are_scipys_26_connected_labels(mask: np.ndarray) -> None:
    labels, count = post.label(mask, across=True)
    want, n = ndimage.label(mask, structure=post.FULL_3D)
    assert count == n and np.array_equal(labels, want)


@settings(max_examples=150, deadline=None)
@given(mask=masks)
def test_components_within_slices_are_opencvs_8_connected_labels(mask: np.ndarray) -> None:
    labels, count = post.label(mask, across=False)
    offset = 0
    for z, plane in enumerate(mask):
        # The pixel-scan algorithm numbers components as we do (raster order of the first pixel): bit for bit.
        n, want, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(plane, 8, cv2.CV_32S, cv2.CCL_SAUF)
        mine = np.where(labels[z] > 0, labels[z] - offset, 0)
        assert np.array_equal(mine, want)
        # OpenCV's default (block-based) algorithm finds the same components, numbered by 2 x 2 block.
        _, default = cv2.connectedComponents(plane, connectivity=8, ltype=cv2.CV_32S)
        marked = plane > 0
        pairs = set(zip(mine[marked].tolist(), default[marked].tolist()))  # one-to-one: the same partition
        assert len(pairs) == len(set(mine[marked].tolist())) == len(set(default[marked].tolist())) == n - 1
        areas = post.components(mask[z : z + 1], np.zeros_like(mask[z : z + 1], np.float32), across=False)[:, 0]
        assert areas.tolist() == stats[1:, cv2.CC_STAT_AREA].tolist()
        offset += n - 1
    assert count == offset


def test_component_statistics_and_filters_by_hand() -> None:
    mask = np.zeros((3, 6, 6), np.uint8)
    mask[0, 0, 0:2] = 1  # A: 2 voxels on slice 0 ...
    mask[1, 1, 2] = 1  # ... joined across slices by a corner: 3 voxels, slices 0 to 1
    mask[0, 4:6, 4:6] = 1  # B: 4 voxels, slice 0
    mask[2, 0, 5] = 1  # C: 1 voxel, slice 2
    prob = np.zeros(mask.shape, np.float32)
    prob[0, 0, 0:2], prob[1, 1, 2] = (0.9, 0.6), 0.3
    prob[0, 4:6, 4:6] = 0.5
    prob[2, 0, 5] = 0.95
    stats = post.components(mask, prob)
    assert stats[:, 0].tolist() == [3, 4, 1]  # areas, label order: A, B, C
    assert stats[:, 1] == pytest.approx([0.9, 0.5, 0.95])  # largest probability
    assert stats[:, 2] == pytest.approx([0.6, 0.5, 0.95])  # mean probability
    assert stats[:, 3:].tolist() == [[0, 1], [0, 0], [2, 2]]  # first and last slice
    assert np.array_equal(post.filter_lesions(mask, prob), mask)  # neutral by default
    a, b, c = (post.label(mask)[0] == k for k in (1, 2, 3))
    assert np.array_equal(post.filter_lesions(mask, prob, min_area=2), (a | b).astype(np.uint8))
    assert np.array_equal(post.filter_lesions(mask, prob, min_max_prob=0.8), (a | c).astype(np.uint8))
    assert np.array_equal(post.filter_lesions(mask, prob, min_mean_prob=0.55), (a | c).astype(np.uint8))
    assert np.array_equal(post.filter_lesions(mask, prob, keep_largest=1), b.astype(np.uint8))
    # Per slice, A is two lesions of 2 and 1 voxels: the 2-voxel rule keeps only its slice-0 part (and B).
    per_slice = post.filter_lesions(mask, prob, min_area=2, across=False)
    assert per_slice.sum() == 2 + 4 and per_slice[1].sum() == 0


def test_bad_input_is_one_clear_error() -> None:
    mask = np.zeros((2, 4, 4), np.uint8)
    with pytest.raises(PostError, match="prob must have the mask's shape"):
        post.filter_lesions(mask, np.zeros((2, 4, 5), np.float32))
    with pytest.raises(PostError, match="mask must be uint8"):
        post.label(mask.astype(bool))
    with pytest.raises(PostError, match="min_area and keep_largest"):
        post.filter_lesions(mask, np.zeros(mask.shape, np.float32), min_area=-1)


class _Echo(torch.nn.Module):
    """A 'model' whose probability is its input: p = sigmoid((x - 0.5) * 40), so an image value sets it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x[:, :1] - 0.5) * 40.0


def _scan() -> np.ndarray:
    """Two slices of 32 x 32: a confident 2 x 2 speck and a larger 6 x 6 lesion of middling confidence."""
    image = np.zeros((2, 1, 32, 32), np.uint8)
    image[0, 0, 2:4, 2:4] = 255  # p ~ 1, 4 voxels
    image[:, 0, 20:26, 20:26] = 140  # p = sigmoid(1.96) ~ 0.88, 72 voxels over both slices
    return image


def _with(**lesion) -> Protocol:
    p = load_protocol("quick")
    post_ = dataclasses.replace(p.post, close=0, open=0, **lesion)
    return dataclasses.replace(p, windows=dataclasses.replace(p.windows, size=32, stride=16), post=post_)


def test_prediction_runs_the_protocols_lesion_stage_on_the_stitched_map() -> None:
    cpu = torch.device("cpu")
    neutral = predict_masks(_Echo(), _scan(), _with(), cpu, 0.5)
    assert neutral.sum() == 4 + 72 and post.label(neutral)[1] == 2  # the stage is off by default
    small_gone = predict_masks(_Echo(), _scan(), _with(lesion_min_area=10), cpu, 0.5)
    assert small_gone.sum() == 72 and not small_gone[0, 2:4, 2:4].any()
    unsure_gone = predict_masks(_Echo(), _scan(), _with(lesion_min_max_prob=0.95), cpu, 0.5)
    assert unsure_gone.sum() == 4
    # Per slice the 6 x 6 lesion is two components of 36: a 40-voxel minimum drops both, across slices none.
    assert predict_masks(_Echo(), _scan(), _with(lesion_min_area=40, lesion_across=False), cpu, 0.5).sum() == 0
    assert predict_masks(_Echo(), _scan(), _with(lesion_min_area=40), cpu, 0.5).sum() == 72
    # At a native size twice the input's, the map is upsampled first and the area counted in native voxels.
    native = predict_masks(_Echo(), _scan(), _with(lesion_min_area=40), cpu, 0.5, shape=(64, 64))
    assert post.label(native)[1] == 1 and native.sum() >= 4 * 72 - 50


def test_the_lesion_keys_are_checked_and_neutral_ones_keep_every_hash() -> None:
    base = load_protocol("quick")
    assert not base.post.lesions
    stage = dataclasses.replace(base, post=dataclasses.replace(base.post, lesion_min_area=400))
    assert stage.post.lesions and stage.hash != base.hash and stage.test_hash == base.test_hash  # a recipe
    with pytest.raises(ProtocolError, match=r"lesion_min_max_prob and lesion_min_mean_prob must be in \[0, 1\]"):
        parse_protocol('name = "x"\n[post]\nlesion_min_max_prob = 1.5', "x.toml")
    with pytest.raises(ProtocolError, match="lesion_min_area and lesion_keep_largest must be >= 0"):
        parse_protocol('name = "x"\n[post]\nlesion_min_area = -1', "x.toml")
