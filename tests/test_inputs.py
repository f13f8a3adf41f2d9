"""Input as data: display windows (brain, bone, subdural) and neighbouring slices as channels."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from ichbench.data import Subject, load_dataset, window_hu
from ichbench.data.inputs import WINDOWS, subject_input
from ichbench.data.readers.imageio import volume_to_slices
from ichbench.errors import DataError, ProtocolError
from ichbench.inference.infer import window_probs
from ichbench.protocol import InputSpec, parse_protocol
from ichbench.protocol_checks import CHANNELS
from ichbench.training.windows import WindowSampler, gather_torch, select_windows, training_windows

INPUT_25D = """
[input]
channels = ["brain", "bone"]
context = 1
"""


def _subject(n: int = 5, size: int = 64) -> Subject:
    rng = np.random.default_rng(7)
    image = rng.integers(0, 255, (n, size, size), dtype=np.uint8)
    bone = rng.integers(0, 255, (n, size, size), dtype=np.uint8)
    mask = np.zeros((n, size, size), np.uint8)
    mask[[0, 2, 4], 10:20, 40:50] = 1
    labels = np.zeros((n, 7), np.uint8)
    return Subject("s", image, mask, labels, np.arange(1, n + 1), bone=bone)


def test_channels_are_the_slice_then_its_neighbours_with_edges_repeated() -> None:
    s = _subject()
    spec = InputSpec(channels=("brain", "bone"), context=1)
    x = subject_input(s, spec)
    assert x.shape == (5, 6, 64, 64) and spec.count == 6
    assert spec.labels() == ["brain", "bone", "brain-1", "bone-1", "brain+1", "bone+1"]
    for z in range(5):
        below, above = max(z - 1, 0), min(z + 1, 4)
        expected = [s.image[z], s.bone[z], s.image[below], s.bone[below], s.image[above], s.bone[above]]
        assert all(np.array_equal(x[z, c], e) for c, e in enumerate(expected))
    assert subject_input(s, InputSpec()).shape == (5, 1, 64, 64)
    with pytest.raises(DataError, match="subject s: the input asks for the 'subdural' window"):
        subject_input(s, InputSpec(channels=("brain", "subdural")))


def test_training_windows_carry_the_neighbouring_slices_pixels() -> None:
    s = _subject()
    spec = InputSpec(channels=("brain",), context=2)
    ws = training_windows([s], size=32, stride=16, seed=0, spec=spec)
    sampler = WindowSampler(ws, batch_size=4, seed=0)
    images, masks = sampler.cut(ws.index)
    assert images.shape == (len(ws), 5, 32, 32) and masks.shape == (len(ws), 1, 32, 32)
    picked = [z for _, z in select_windows([s], 32, 16, 0)[0]]  # which slice each slot holds
    for i, (slot, r, c) in enumerate(ws.index.tolist()):
        z = picked[slot]
        for channel, offset in enumerate(spec.offsets()):
            neighbour = s.image[min(max(z + offset, 0), 4), r : r + 32, c : c + 32]
            assert np.array_equal(images[i, channel].numpy(), neighbour)
        assert np.array_equal(masks[i, 0].numpy(), s.mask[z, r : r + 32, c : c + 32])
    gathered = gather_torch(ws.images, ws.masks, ws.index, 32)  # the GPU path, run on the CPU
    assert torch.equal(gathered[0], images) and torch.equal(gathered[1], masks)


class _Pick(torch.nn.Module):
    """A 'model' whose logit is one input channel: shows which pixels inference fed it."""

    def __init__(self, channel: int) -> None:
        super().__init__()
        self.channel = channel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.logit(x[:, self.channel : self.channel + 1].clamp(0.01, 0.99))


def test_inference_feeds_every_window_its_own_channels() -> None:
    s = _subject()
    protocol = parse_protocol('name = "p"\n[windows]\nsize = 32\nstride = 16\n' + INPUT_25D, "p.toml")
    x = subject_input(s, protocol.input)
    probs, corners = window_probs(_Pick(4), x, protocol, torch.device("cpu"))  # channel 4: brain of slice z + 1
    for z in range(5):
        for n, (r, c) in enumerate(corners):
            expected = np.clip(s.image[min(z + 1, 4), r : r + 32, c : c + 32] / 255.0, 0.01, 0.99)
            np.testing.assert_allclose(probs[z, n], expected, atol=1e-6)


def test_input_table_parses_hashes_and_rejects_bad_values(committed_protocols) -> None:
    base = 'name = "p"\n'
    plain = parse_protocol(base, "p.toml")
    stated = parse_protocol(base + '[input]\nchannels = ["brain"]\ncontext = 0\n', "p.toml")
    assert plain.hash == stated.hash  # the default input leaves the hash of older protocols alone
    assert committed_protocols[0].hash == "e0fe5395e181"
    wider = parse_protocol(base + INPUT_25D, "p.toml")
    assert wider.hash != plain.hash and wider.input.count == 6
    assert parse_protocol(wider.to_toml(), "again").hash == wider.hash
    assert tuple(WINDOWS) == CHANNELS  # the names the protocol allows are the windows the data layer computes
    for text, message in [
        ('channels = ["bone", "brain"]', "must start with 'brain'"),
        ('channels = ["brain", "lung"]', "must be among brain, bone, subdural"),
        ('channels = ["brain", "bone", "bone"]', "must not repeat"),
        ("context = -1", "context must be 0 to 8"),
        ("context = 1.5", "context must be a int"),
    ]:
        with pytest.raises(ProtocolError, match=message):
            parse_protocol(base + "[input]\n" + text + "\n", "p.toml")


def test_subdural_window_comes_from_hounsfield_units_or_a_clear_error(phantom_nifti: Path, phantom_jpg: Path) -> None:
    ds = load_dataset(phantom_nifti, bone=True, subdural=True)
    s = ds.subjects[0]
    hu = volume_to_slices(np.asarray(nib.load(phantom_nifti / "ct_scans" / f"{s.id}.nii").dataobj, np.float32))
    np.testing.assert_array_equal(s.subdural, window_hu(hu, 80, 200))
    np.testing.assert_array_equal(s.bone, window_hu(hu, 700, 3200))
    np.testing.assert_array_equal(s.image, window_hu(hu, 40, 120))
    assert load_dataset(phantom_nifti).subjects[0].subdural is None
    with pytest.raises(DataError, match=r"jpg: the ctich-1.0.0 layout holds no Hounsfield units"):
        load_dataset(phantom_jpg, subdural=True)


@pytest.mark.slow
def test_a_25d_bone_window_protocol_trains_exports_and_predicts(tmp_path: Path, cli, tiny_protocol) -> None:
    from ichbench.data.phantom.write import write_phantom

    proto = tiny_protocol(tmp_path / "tiny.toml", epochs=1)
    proto.write_text(proto.read_text() + INPUT_25D)
    plain = tiny_protocol(tmp_path / "plain.toml", epochs=1)
    for protocol in (proto, plain):
        run = cli(
            "run", "--models", "unet,threshold", "--protocol", protocol, "--out", protocol.stem, "--leaderboard", "lb"
        )
        assert run.returncode == 0, run.stderr
    tables = sorted((tmp_path / "lb").glob("*.csv"))
    assert len(tables) == 2  # a different input is a different protocol hash: its own table
    assert all(list(pd.read_csv(t).model) == ["unet", "threshold"] for t in tables)
    assert cli("leaderboard", "verify", "--leaderboard", "lb").returncode == 0
    export = cli("export", "tiny", "--model", "unet", "--out", "bundle")
    assert export.returncode == 0, export.stderr
    meta = json.loads((tmp_path / "bundle" / "bundle.json").read_text())
    assert meta["input"] == {
        "channels": ["brain", "bone"],
        "context": 1,
        "labels": InputSpec(("brain", "bone"), 1).labels(),
    }
    write_phantom(tmp_path / "scans", subjects=1, slices=3, size=64, seed=3, layout="nifti")
    scan = next((tmp_path / "scans" / "ct_scans").glob("*.nii"))
    predicted = cli("predict", "bundle", scan, "--out", "pred", "--device", "cpu")
    assert predicted.returncode == 0, predicted.stderr
    mask = nib.load(tmp_path / "pred" / "mask.nii.gz")
    assert mask.shape == nib.load(scan).shape
    # Brain-window slices alone cannot give the bone window the bundle was trained on.
    slices = tmp_path / "slices"
    slices.mkdir()
    for z, image in enumerate(volume_to_slices(np.asarray(nib.load(scan).dataobj, np.float32))):
        Image.fromarray(window_hu(image)).save(slices / f"{z + 1}.png")
    windowed = cli("predict", "bundle", slices, "--out", "pred2", "--device", "cpu")
    assert windowed.returncode == 2 and "needs the bone window(s), computed from Hounsfield units" in windowed.stderr
    assert "Traceback" not in windowed.stderr and not (tmp_path / "pred2").exists()
