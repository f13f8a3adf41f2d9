"""Fuzzing ichbench.post's inputs: a correct mask of the right shape, or PostError (an ichbench error)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ichbench.errors import IchbenchError

arrays = st.builds(
    lambda dtype, shape: np.full(shape, 0.7).astype(dtype),
    st.sampled_from([np.float32, np.float64, np.uint8, np.int32, np.bool_]),
    st.lists(st.integers(0, 40), min_size=0, max_size=4).map(tuple),
)


@given(
    prob=arrays,
    threshold=st.floats(allow_nan=True) | st.integers(-5, 5),
    close=st.integers(-3, 20) | st.floats(allow_nan=True),
    open_=st.integers(-3, 20),
    threads=st.integers(-2, 4),
)
def test_post_binarize(prob: np.ndarray, threshold: float, close: int, open_: int, threads: int) -> None:
    from ichbench import post

    try:
        mask = post.binarize(prob, threshold, close, open_, threads=threads)
    except IchbenchError:
        return
    assert mask.shape == prob.shape and mask.dtype == np.uint8


@given(
    patches=arrays,
    corners=st.lists(st.lists(st.integers(-50, 100), min_size=0, max_size=3), max_size=6).map(
        lambda c: np.array(c, dtype=object if len({len(r) for r in c}) > 1 else np.int64)
    ),
    shape=st.tuples(st.integers(-5, 80), st.integers(-5, 80)),
    weighting=st.sampled_from(["mean", "gaussian", "max", ""]),
)
def test_post_stitch(patches: np.ndarray, corners: np.ndarray, shape: tuple[int, int], weighting: str) -> None:
    from ichbench import post

    try:
        prob = post.stitch(patches, corners, shape, weighting)
    except IchbenchError:
        return
    assert prob.shape == shape and prob.dtype == np.float32
    for threshold in (0.5,):
        try:
            mask = post.stitch_binarize(patches[None], corners, shape, threshold, 2, 1, weighting=weighting)
        except IchbenchError:
            return
        assert mask.shape == (1, *shape)
