"""Readers on real files: the phantom written in each layout, the generic folder, the real release."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from ichbench.data import LABELS, load_dataset, window_hu
from ichbench.data.phantom.write import generate
from ichbench.data.readers.imageio import slices_to_volume, volume_to_slices, write_gray

NO_HEM = LABELS.index("No_Hemorrhage")


def test_window_hu_is_the_papers_brain_window() -> None:
    hu = np.array([-1000, -20, 40, 100, 1000, 70], np.float32)
    assert window_hu(hu).tolist() == [0, 0, 128, 255, 255, 191]  # level 40, width 120


def test_jpg_layout_round_trip(phantom_jpg: Path) -> None:
    ds = load_dataset(phantom_jpg)
    truth = generate(5, 6, 96, 3)
    assert ds.layout == "ctich-1.0.0" and ds.ids == ["001", "002", "003", "004", "005"]
    for subject, vol in zip(ds.subjects, truth):
        assert subject.image.shape == (6, 96, 96) and subject.image.dtype == np.uint8
        np.testing.assert_array_equal(subject.labels, vol.labels)
        np.testing.assert_array_equal(subject.slice_numbers, np.arange(1, 7))
        # JPEG-compressed masks thresholded at 127 come back (almost) exactly.
        assert (subject.mask != vol.mask).mean() < 1e-3
        assert np.abs(subject.image.astype(int) - window_hu(vol.hu)).mean() < 3  # lossy JPEG
        assert np.array_equal(subject.positive, vol.labels[:, NO_HEM] == 0)


def test_nifti_layout_round_trip_with_spacing_and_orientation(phantom_nifti: Path) -> None:
    ds = load_dataset(phantom_nifti)
    truth = generate(4, 5, 80, 4)
    assert ds.layout == "ctich-1.3.1"
    for subject, vol in zip(ds.subjects, truth):
        np.testing.assert_array_equal(subject.image, window_hu(np.rint(vol.hu)))
        np.testing.assert_array_equal(subject.mask, vol.mask)
        assert subject.spacing == pytest.approx(vol.spacing)
    raw = nib.load(str(phantom_nifti / "ct_scans" / "001.nii"))
    assert raw.shape == (80, 80, 5)  # (x, y, z) as the release stores it
    stack = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    np.testing.assert_array_equal(volume_to_slices(slices_to_volume(stack)), stack)


def test_nifti_gz_volumes_are_read(phantom_nifti: Path) -> None:
    before = load_dataset(phantom_nifti, use_cache=False)
    for folder in ("ct_scans", "masks"):
        for path in (phantom_nifti / folder).glob("*.nii"):
            path.with_suffix(".nii.gz").write_bytes(gzip.compress(path.read_bytes()))
            path.unlink()
    after = load_dataset(phantom_nifti, use_cache=False)
    for a, b in zip(before.subjects, after.subjects):
        np.testing.assert_array_equal(a.image, b.image)


def test_bone_channel_copes_with_a_missing_slice(phantom_jpg: Path) -> None:
    (phantom_jpg / "Patients_CT" / "002" / "bone" / "3.jpg").unlink()
    with pytest.warns(UserWarning, match=r"002/bone/3.jpg: bone-window slice missing"):
        ds = load_dataset(phantom_jpg, bone=True)
    bone = ds.subject("002").bone
    assert bone is not None and bone.shape == ds.subject("002").image.shape
    assert bone[2].max() == 0 and bone[1].max() > 120  # skull is bright in the bone window


def test_generic_folder_with_png_and_nifti(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = ["subject,slice,image,mask"]
    images = {}
    for sid in ("a", "b"):
        for k in (1, 2):
            image = rng.integers(0, 255, (40, 50), dtype=np.uint8)
            mask = np.zeros((40, 50), np.uint8)
            if k == 2:
                mask[10:20, 5:15] = 1
            images[(sid, k)] = (image, mask)
            write_gray(tmp_path / f"{sid}{k}.png", image)
            mask_cell = ""
            if k == 2:
                write_gray(tmp_path / f"{sid}{k}_mask.png", mask)  # 0/1 lossless
                mask_cell = f"{sid}{k}_mask.png"
            rows.append(f"{sid},{k},{sid}{k}.png,{mask_cell}")
    hu = rng.uniform(-50, 120, (50, 40)).astype(np.float32)  # NIfTI (x, y)
    nib.save(nib.Nifti1Image(hu, np.eye(4)), str(tmp_path / "c1.nii"))
    rows.append("c,1,c1.nii,")
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    ds = load_dataset(tmp_path)
    assert ds.layout == "folder" and ds.ids == ["a", "b", "c"]
    np.testing.assert_array_equal(ds.subject("a").image[0], images[("a", 1)][0])
    np.testing.assert_array_equal(ds.subject("b").mask[1], images[("b", 2)][1])
    assert ds.subject("b").labels[:, NO_HEM].tolist() == [1, 0]
    np.testing.assert_array_equal(ds.subject("c").image[0], window_hu(hu.T))


def test_cache_returns_memory_mapped_identical_arrays(phantom_jpg: Path) -> None:
    first = load_dataset(phantom_jpg)
    second = load_dataset(phantom_jpg)
    assert first.fingerprint == second.fingerprint
    assert isinstance(second.subjects[0].image, np.memmap)
    for a, b in zip(first.subjects, second.subjects):
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.mask, b.mask)
    # Any change to a file changes the fingerprint, so stale arrays are never served.
    shutil.copy(
        phantom_jpg / "Patients_CT" / "001" / "brain" / "2.jpg", phantom_jpg / "Patients_CT" / "001" / "brain" / "1.jpg"
    )
    third = load_dataset(phantom_jpg)
    assert third.fingerprint != first.fingerprint
    np.testing.assert_array_equal(third.subject("001").image[0], third.subject("001").image[1])


def test_cli_check_json(phantom_nifti: Path, cli) -> None:
    proc = cli("data", "check", str(phantom_nifti), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["layout"] == "ctich-1.3.1" and summary["patients"] == 4 and summary["slices"] == 20
    truth = generate(4, 5, 80, 4)
    assert summary["positive_slices"] == sum(int((v.labels[:, NO_HEM] == 0).sum()) for v in truth)


@pytest.mark.slow
def test_real_release_counts(real_data: Path, cli) -> None:
    proc = cli("data", "check", str(real_data), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["layout"] == "ctich-1.0.0"
    assert (summary["patients"], summary["slices"], summary["positive_slices"]) == (82, 2501, 318)
    assert summary["patients_with_hemorrhage"] == 36
    assert summary["slice_sizes"] == ["640x640"]


READER_PLUGIN = '''
from pathlib import Path

import numpy as np

from ichbench.data.dataset import LABELS, Subject
from ichbench.data.readers import Reader


def read(root, bone=False):
    """Each NNN.npz holds image (S, H, W) uint8 and mask (S, H, W) 0/1."""
    subjects = []
    for path in sorted(Path(root).glob("*.npz")):
        d = np.load(path)
        n = len(d["image"])
        labels = np.zeros((n, len(LABELS)), np.uint8)
        labels[:, LABELS.index("No_Hemorrhage")] = ~d["mask"].reshape(n, -1).any(1)
        subjects.append(Subject(path.stem, d["image"], d["mask"], labels, np.arange(1, n + 1)))
    return subjects


READER = Reader("npz-stacks", "NNN.npz stacks + stacks.txt", lambda root: (root / "stacks.txt").exists(), read)
NOT_A_READER = object()
'''


@pytest.mark.slow
def test_reader_plugin_installed_with_pip_is_used_and_broken_ones_are_reported(tmp_path, cli, install_plugin) -> None:
    eps = {
        "npz-stacks": "ichbench_npzreader:READER",
        "bad": "ichbench_npzreader:NOT_A_READER",
        "gone": "no_such_reader_module:READER",
    }
    env = install_plugin("ichbench-npzreader", {"ichbench.readers": eps}, "ichbench_npzreader", READER_PLUGIN)
    data = tmp_path / "stacks"
    data.mkdir()
    (data / "stacks.txt").write_text("two subjects\n")
    rng = np.random.default_rng(0)
    for sid, lesion in (("001", True), ("002", False)):
        mask = np.zeros((3, 32, 32), np.uint8)
        mask[1, 10:20, 10:20] = lesion
        np.savez(data / f"{sid}.npz", image=rng.integers(0, 255, (3, 32, 32), dtype=np.uint8), mask=mask)
    checked = cli("data", "check", data, "--json", env=env)
    assert checked.returncode == 0, checked.stderr
    doc = json.loads(checked.stdout)
    assert doc["layout"] == "npz-stacks" and doc["patients"] == 2 and doc["positive_slices"] == 1
    assert "reader plugin 'gone'" in checked.stderr and "reader plugin 'bad'" in checked.stderr
    unknown = tmp_path / "other"
    unknown.mkdir()
    (unknown / "x.txt").write_text("?")
    refused = cli("data", "check", unknown, env=env)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert (
        "NNN.npz stacks + stacks.txt (npz-stacks)" in refused.stderr and "manifest.csv (own folder)" in refused.stderr
    )
