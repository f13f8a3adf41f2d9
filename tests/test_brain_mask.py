"""The brain mask of the lesion stage (ichbench.post.brain_mask) against scipy and OpenCV on fuzzed images,
bit for bit; the stage's use of it in prediction; and, on CT-ICH, how many true pixels each erosion removes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

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
from ichbench.protocol import load_protocol, parse_protocol

CTICH = Path(__file__).resolve().parents[2] / "shared" / "ctich-1.0.0"


def reference(image: np.ndarray, low: int, high: int, erode: int) -> np.ndarray:
    """The same steps from scipy and OpenCV."""
    out = np.zeros_like(image)
    for z, plane in enumerate(image):
        labels, n = ndimage.label((plane >= low) & (plane <= high), structure=np.ones((3, 3)))
        if n == 0:
            continue
        largest = labels == 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))  # the first of equal areas
        filled = ndimage.binary_fill_holes(largest).astype(np.uint8)
        out[z] = cv2.erode(filled, np.ones((2 * erode + 1,) * 2, np.uint8)) if erode else filled
    return out


images = st.builds(
    lambda seed, shape, blobs: ndimage.uniform_filter(
        np.random.default_rng(seed).integers(0, 256, shape).astype(np.float32), size=(1, blobs, blobs)
    ).astype(np.uint8),
    st.integers(0, 2**32 - 1),
    st.tuples(st.integers(1, 3), st.integers(1, 40), st.integers(1, 72)),
    st.integers(1, 5),
)


@settings(max_examples=150, deadline=None)
@given(image=images, low=st.integers(0, 255), span=st.integers(0, 255), erode=st.integers(0, 6))
def test_brain_mask_is_scipy_then_opencv(image: np.ndarray, low: int, span: int, erode: int) -> None:
    high = min(255, low + span)
    assert np.array_equal(post.brain_mask(image, low, high, erode), reference(image, low, high, erode))


def test_brain_mask_by_hand() -> None:
    image = np.zeros((1, 9, 9), np.uint8)
    image[0, 1:8, 1:8] = 255  # the skull, saturated: outside [43, 254]
    image[0, 2:7, 2:7] = 80  # brain inside it
    image[0, 4, 4] = 10  # a dark spot inside the brain: a hole, filled
    image[0, 0, 8] = 80  # a speck of scalp: a smaller component, dropped
    mask = post.brain_mask(image, 43, 254, 0)
    want = np.zeros((9, 9), np.uint8)
    want[2:7, 2:7] = 1
    assert np.array_equal(mask[0], want)
    eroded = post.brain_mask(image, 43, 254, 1)[0]
    assert eroded.sum() == 9 and eroded[3:6, 3:6].all()


@pytest.mark.parametrize("bad", [dict(low=-1), dict(high=256), dict(low=200, high=100), dict(erode=-1)])
def test_brain_mask_rejects_bad_arguments(bad: dict) -> None:
    args = dict(low=43, high=254, erode=0) | bad
    with pytest.raises(PostError):
        post.brain_mask(np.zeros((1, 4, 4), np.uint8), **args)


QUICK = "extends = 'quick'\nname = 'quick'\n[post]\n"


def test_protocol_checks_brain_keys() -> None:
    with pytest.raises(ProtocolError, match="brain_low"):
        parse_protocol(f"{QUICK}brain_mask = true\nbrain_low = 200\nbrain_high = 100\n", "x.toml")
    quick = load_protocol("quick")
    on = parse_protocol(f"{QUICK}brain_mask = true\n", "x.toml")
    assert on.post.lesions and not quick.post.lesions and on.hash != quick.hash
    neutral = parse_protocol(f"{QUICK}brain_mask = false\nbrain_low = 43\nbrain_erode = 0\n", "x.toml")
    assert neutral.hash == quick.hash  # keys added later leave every earlier hash as it was


class Constant(torch.nn.Module):
    """A model that predicts hemorrhage everywhere."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full_like(x[:, :1], 10.0)


def test_prediction_keeps_only_the_brain() -> None:
    protocol = load_protocol("quick")
    image = np.zeros((2, 160, 160), np.uint8)
    image[:, 20:140, 20:140] = 255  # skull
    image[:, 30:130, 30:130] = 60  # brain
    on = dataclasses.replace(protocol, post=dataclasses.replace(protocol.post, brain_mask=True, brain_erode=3))
    args = (torch.device("cpu"), 0.5, False)
    everything = predict_masks(Constant(), image, protocol, *args)
    brain = predict_masks(Constant(), image, on, *args)
    assert everything.all()
    want = np.zeros_like(brain)
    want[:, 33:127, 33:127] = 1
    assert np.array_equal(brain, want)
    native = predict_masks(Constant(), image, on, *args, shape=(320, 320))  # found on the upsampled input
    assert native.shape == (2, 320, 320) and native[:, 66:254, 66:254].all() and not native[:, :60].any()


@pytest.mark.slow
@pytest.mark.skipif(not CTICH.exists(), reason="needs ../shared/ctich-1.0.0")
def test_erosion_against_the_ctich_masks() -> None:
    """Epidural and subdural bleeds lie against the skull: the share of true pixels each erosion removes,
    over all slices with hemorrhage and over the subdural ones (docs/post-processing.md quotes them)."""
    from ichbench.data import SUBTYPES, load_dataset

    subjects = [s for s in load_dataset(CTICH).subjects if s.mask.any()]
    assert len(subjects) == 36 and subjects[0].image.shape[1:] == (640, 640)
    removed: dict[int, tuple[float, float]] = {}
    subdural = SUBTYPES.index("Subdural")
    for erode in (0, 5, 10):
        lost = np.zeros(2)
        total = np.zeros(2)
        for s in subjects:
            truth = s.mask > 0
            gone = truth & (post.brain_mask(np.ascontiguousarray(s.image), 43, 254, erode) == 0)
            sdh = s.labels[:, subdural] > 0
            lost += [gone.sum(), gone[sdh].sum()]
            total += [truth.sum(), truth[sdh].sum()]
        removed[erode] = tuple(lost / total)
    assert removed[0][0] < 0.005  # the mask alone keeps nearly every true pixel (0.16%)
    assert 0.02 < removed[5][0] < removed[10][0] < 0.2  # 4.3% and 10.9%
    assert removed[5][1] > 2 * removed[5][0] and removed[10][1] > 2 * removed[10][0]  # subdural: 9.5%, 23.6%
