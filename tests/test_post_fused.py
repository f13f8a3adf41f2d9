"""The fused windows-to-mask path, all thresholds in one pass, and morphology in torch: against OpenCV
and against the unfused path, over every kernel size 0..15, odd and even slice sizes, random and
lesion-shaped inputs, and property-based (hypothesis) shapes and thresholds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ichbench import post
from ichbench.evaluation.metrics import slice_counts


def lesions(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """Window probabilities shaped like a model's output: a few smooth blobs on a low background."""
    yy, xx = np.mgrid[:size, :size]
    out = rng.random((n, size, size), dtype=np.float32) * 0.1
    for i in range(n):
        for _ in range(int(rng.integers(0, 3))):
            cy, cx, r = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(2, size / 3)
            out[i] += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)).astype(np.float32)
    return np.clip(out, 0, 1)


def windows(rng: np.random.Generator, shape: tuple[int, int], size: int, stride: int, kind: str):
    corners = post.grid(shape, size, stride)
    if kind == "lesions":
        return lesions(rng, len(corners), size), corners
    return rng.random((len(corners), size, size), dtype=np.float32), corners


@pytest.mark.parametrize("k", range(16))
@pytest.mark.parametrize("shape", [(97, 130), (128, 96)])
def test_fused_equals_opencv_for_every_kernel(k: int, shape: tuple[int, int], opencv_binarize) -> None:
    rng = np.random.default_rng(k)
    for kind in ("random", "lesions"):
        patches, corners = windows(rng, shape, 32, 16, kind)
        prob = post.stitch(patches, corners, shape)
        for close, open_ in ((k, 0), (0, k), (k, max(k // 2, 0)), (k, k)):
            got = post.stitch_binarize(patches, corners, shape, 0.45, close, open_)
            np.testing.assert_array_equal(
                got, opencv_binarize(prob, 0.45, close, open_), err_msg=f"{kind} {close}/{open_}"
            )


@pytest.mark.parametrize("shape", [(70, 64), (45, 130)])
def test_every_close_and_open_pair_equals_opencv(shape: tuple[int, int], opencv_binarize) -> None:
    # Closing's and opening's erosions run as one erosion (length c + o - 1, anchor c//2 + o//2), whose
    # anchor differs from OpenCV's own for that length when c and o are both even: every pair is checked.
    rng = np.random.default_rng(7)
    for kind in ("random", "lesions"):
        patches, corners = windows(rng, shape, 32, 16, kind)
        prob = post.stitch(patches, corners, shape)
        for close in range(16):
            for open_ in range(16):
                np.testing.assert_array_equal(
                    post.binarize(prob, 0.5, close, open_),
                    opencv_binarize(prob, 0.5, close, open_),
                    err_msg=f"{kind} {shape} close {close} open {open_}",
                )


NARROW = """
import sys
import numpy as np
from ichbench import post
data = np.load(sys.argv[1])
out = {}
for key in sorted({k.split(":")[0] for k in data.files}):
    patches, corners, truth = data[key + ":patches"], data[key + ":corners"], data[key + ":truth"]
    shape = truth.shape[1:]
    out[key + ":fused"] = post.stitch_binarize(patches, corners, shape, 0.45, 6, 3)
    out[key + ":binarize"] = post.binarize(post.stitch(patches, corners, shape), 0.45, 6, 3)
    out[key + ":counts"] = post.threshold_counts(patches[None], corners, truth, [0.2, 0.45, 0.7], 6, 3)
np.savez(sys.argv[2], **out)
"""


@pytest.mark.parametrize("isa", ["avx2", "sse2"])
def test_narrower_instruction_sets_give_the_same_bits(isa: str, tmp_path: Path) -> None:
    # The machine running the tests takes its widest paths; ICHBENCH_POST_ISA caps the hand-written ones
    # (compares, unpacking, popcount, funnel-shift row dilation), so those paths are checked here too,
    # against the default ones.
    rng = np.random.default_rng(11)
    inputs, want = {}, {}
    for shape in ((70, 64), (45, 130), (97, 200)):
        key = f"{shape[0]}x{shape[1]}"
        patches, corners = windows(rng, shape, 32, 16, "lesions")
        truth = (rng.random((1, *shape)) > 0.7).astype(np.uint8)
        inputs.update({key + ":patches": patches, key + ":corners": corners, key + ":truth": truth})
        want[key + ":fused"] = post.stitch_binarize(patches, corners, shape, 0.45, 6, 3)
        want[key + ":binarize"] = post.binarize(post.stitch(patches, corners, shape), 0.45, 6, 3)
        want[key + ":counts"] = post.threshold_counts(patches[None], corners, truth, [0.2, 0.45, 0.7], 6, 3)
    np.savez(tmp_path / "in.npz", **inputs)
    env = dict(os.environ, ICHBENCH_POST_ISA=isa)
    proc = subprocess.run(
        [sys.executable, "-c", NARROW, str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
        env=env,
        cwd=tmp_path,  # not the checkout, whose source folder would shadow the installed package
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    got = np.load(tmp_path / "out.npz")
    assert sorted(got.files) == sorted(want)
    for key, value in want.items():
        np.testing.assert_array_equal(got[key], value, err_msg=f"{isa}: {key}")


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(16, 90),
    width=st.integers(16, 90),
    size=st.sampled_from([8, 12, 16]),
    threshold=st.floats(0.0, 1.0, allow_nan=False),
    close=st.integers(0, 12),
    open_=st.integers(0, 12),
    seed=st.integers(0, 2**16),
    kind=st.sampled_from(["random", "lesions"]),
)
def test_fused_and_counts_property(opencv_binarize, height, width, size, threshold, close, open_, seed, kind) -> None:
    rng = np.random.default_rng(seed)
    patches, corners = windows(rng, (height, width), size, max(1, size // 2), kind)
    prob = post.stitch(patches, corners, (height, width))
    expected = opencv_binarize(prob, threshold, close, open_)
    np.testing.assert_array_equal(
        post.stitch_binarize(patches, corners, (height, width), threshold, close, open_), expected
    )
    np.testing.assert_array_equal(post.binarize(prob, threshold, close, open_), expected)
    truth = (rng.random((1, height, width)) > 0.8).astype(np.uint8)
    counts = post.threshold_counts(patches[None], corners, truth, [threshold], close, open_)[0, 0]
    one = slice_counts(expected[None], truth)
    assert counts.tolist() == [int(one[k][0]) for k in ("tp", "fp", "fn", "tn")]


def test_every_threshold_in_one_pass_equals_one_at_a_time() -> None:
    rng = np.random.default_rng(3)
    shape = (160, 160)
    corners = post.grid(shape, 64, 32)
    patches = np.stack([lesions(rng, len(corners), 64) for _ in range(3)])
    truth = (rng.random((3,) + shape) > 0.9).astype(np.uint8)
    grid = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    counts = post.threshold_counts(patches, corners, truth, grid, 4, 2, threads=2)
    assert counts.shape == (3, 9, 4) and (counts.sum(-1) == 160 * 160).all()
    for b in range(3):
        for j, t in enumerate(grid):
            mask = post.stitch_binarize(patches[b], corners, shape, t, 4, 2)[None]
            one = slice_counts(mask, truth[b : b + 1])
            assert counts[b, j].tolist() == [int(one[k][0]) for k in ("tp", "fp", "fn", "tn")]


def test_fused_batch_threads_and_gaussian_weighting_match_the_unfused_path() -> None:
    rng = np.random.default_rng(7)
    corners = post.grid((200, 200), 64, 32)
    patches = np.stack([lesions(rng, len(corners), 64) for _ in range(5)])
    for weighting in ("mean", "gaussian"):
        prob = post.stitch_batch(patches, corners, (200, 200), weighting)
        expected = post.binarize(prob, 0.5, 10, 5)
        got = post.stitch_binarize(patches, corners, (200, 200), 0.5, 10, 5, weighting, threads=3)
        np.testing.assert_array_equal(got, expected)


def test_bad_input_is_a_clear_value_error() -> None:
    corners = post.grid((64, 64), 32, 16)
    patches = np.zeros((len(corners), 32, 32), np.float32)
    with pytest.raises(ValueError, match="truth must be uint8"):
        post.threshold_counts(patches[None], corners, np.zeros((1, 64, 64), np.float32), [0.5])
    with pytest.raises(ValueError, match="1 slices of windows but 2 truth masks"):
        post.threshold_counts(patches[None], corners, np.zeros((2, 64, 64), np.uint8), [0.5])
    with pytest.raises(ValueError, match="close kernel size must be an integer from 0 to"):
        post.stitch_binarize(patches, corners, (64, 64), 0.5, -1, 0)
