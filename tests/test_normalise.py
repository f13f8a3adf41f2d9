"""Per-scan intensity normalisation ([input] normalise = "scan"): hand-computed, offset-free, and on CT-ICH."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ichbench.data import Subject
from ichbench.data.inputs import NORMAL_MEAN, NORMAL_SD, normalise_scan, subject_input
from ichbench.errors import ProtocolError
from ichbench.post import brain_mask
from ichbench.protocol import InputSpec, parse_protocol
from ichbench.training.windows import training_windows

CTICH = Path(__file__).resolve().parents[2] / "shared" / "ctich-1.0.0"


def _head(brain_values: tuple[int, int] = (100, 140), slices: int = 3) -> np.ndarray:
    """Background 0, a skull ring at 255, a brain disk whose left half holds one value and right half the other."""
    yy, xx = np.mgrid[:64, :64]
    r = np.hypot(yy - 32, xx - 32)
    image = np.zeros((64, 64), np.uint8)
    image[r < 28] = 255
    image[r < 24] = brain_values[0]
    image[(r < 24) & (xx >= 32)] = brain_values[1]
    return np.repeat(image[None], slices, axis=0)


def test_a_hand_computed_scan() -> None:
    head = _head()
    brain = brain_mask(head).astype(bool)
    assert np.array_equal(brain[0], np.hypot(*(np.mgrid[:64, :64] - 32)) < 24)  # the disk, and only it
    low, high = head[brain] == 100, head[brain] == 140
    mean = (100 * low.sum() + 140 * high.sum()) / brain.sum()
    sd = np.sqrt((low.sum() * (100 - mean) ** 2 + high.sum() * (140 - mean) ** 2) / brain.sum())
    out = normalise_scan(head)
    for value in (100, 140):
        expected = np.clip(np.rint((value - mean) / sd * NORMAL_SD + NORMAL_MEAN), 0, 255)
        assert np.all(out[head == value] == expected)
    assert np.all(out[head == 0] == 0) and np.all(out[head == 255] == 255)  # clipped at both ends
    assert abs(out[brain].mean() - NORMAL_MEAN) < 0.5 and abs(out[brain].std() - NORMAL_SD) < 0.5


def test_a_brighter_scan_is_brought_in_line() -> None:
    """A scan whose brain reads 20 grey levels brighter (as CT-ICH's subject 050) normalises to the same brain."""
    head, bright = _head((100, 140)), _head((120, 160))
    brain = brain_mask(head).astype(bool)
    assert np.array_equal(normalise_scan(head)[brain], normalise_scan(bright)[brain])
    assert np.array_equal(normalise_scan(np.zeros((2, 8, 8), np.uint8)), np.full((2, 8, 8), 128, np.uint8))


def test_training_and_prediction_see_the_scan_normalised_as_a_whole() -> None:
    head = _head(slices=4)
    head[3] = np.where(head[3] == 140, 200, head[3])  # one slice differs: the statistics are the scan's
    mask = np.zeros_like(head)
    mask[1, 20:30, 20:30] = 1
    subject = Subject("s", head, mask, np.zeros((4, 7), np.uint8), np.arange(1, 5))
    spec = InputSpec(normalise="scan")
    whole = normalise_scan(head)
    assert np.array_equal(subject_input(subject, spec)[:, 0], whole)
    windows = training_windows([subject], size=32, stride=32, seed=0, spec=spec)
    z = [1, *np.flatnonzero(mask.reshape(4, -1).max(1) == 0)]
    assert any(np.array_equal(windows.images[i, 0].numpy(), whole[zi]) for i in range(2) for zi in z)
    assert np.array_equal(windows.images[0, 0].numpy(), whole[1])  # the hemorrhage slice comes first
    assert np.array_equal(subject_input(subject, InputSpec())[:, 0], head)  # the default leaves it as it is


def test_the_protocol_keys() -> None:
    def parse(text: str) -> str:
        return parse_protocol("name = 'p'\n" + text, "p.toml").hash

    assert parse("[input]\nnormalise = 'scan'\n") != parse("") == parse("[input]\nnormalise = 'none'\n")
    assert parse("[windows]\nnegatives = 'epoch'\n") != parse("") == parse("[windows]\nnegatives = 'once'\n")
    with pytest.raises(ProtocolError, match="p.toml.*normalise must be one of none, scan, got 'zscore'"):
        parse("[input]\nnormalise = 'zscore'\n")
    with pytest.raises(ProtocolError, match="negatives must be one of once, epoch, got 'always'"):
        parse("[windows]\nnegatives = 'always'\n")
    with pytest.raises(ProtocolError, match="brain_mask reads the brain window of channel 0"):
        parse("[input]\nnormalise = 'scan'\n[post]\nbrain_mask = true\n")


@pytest.mark.slow
@pytest.mark.skipif(not CTICH.exists(), reason="needs ../shared/ctich-1.0.0")
def test_subject_050_is_brought_in_line_on_ctich() -> None:
    """050's brain is the brightest of the 82 (docs/experiments quotes it); normalised, it is an ordinary one."""
    from ichbench.data import load_dataset

    subjects = load_dataset(CTICH, scale=0.25).subjects
    before, after = {}, {}
    for s in subjects:
        brain = brain_mask(s.image).astype(bool)
        before[s.id], after[s.id] = np.median(s.image[brain]), np.median(normalise_scan(s.image)[brain])
    assert len(subjects) == 82 and max(before, key=before.get) == "050"
    assert before["050"] - np.median(list(before.values())) > 20
    q1, q3 = np.percentile(list(after.values()), [25, 75])
    assert q1 <= after["050"] <= q3
