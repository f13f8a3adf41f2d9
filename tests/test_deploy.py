"""Bundles, `ichbench predict` on new scans, and `ichbench evaluate` (external validation)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from ichbench.data.phantom.write import write_phantom
from ichbench.data.readers.imageio import volume_to_slices, write_gray

pytestmark = pytest.mark.slow  # each test calls the CLI several times (a second or two of torch import each)


def _ichbench(cwd: Path, *args: object, env: dict | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "ichbench"
    return subprocess.run(
        [str(exe), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, **(env or {})),
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, tiny_protocol) -> Path:
    """A finished tiny run of resunet and the fitted threshold band, their bundles, and a phantom NIfTI data set
    to predict (its subject 001 has no hemorrhage)."""
    root = tmp_path_factory.mktemp("deploy")
    env = {"ICHBENCH_CACHE": str(root / "cache")}
    tiny_protocol(root / "tiny.toml", epochs=2)
    run = _ichbench(
        root, "run", "--models", "resunet,threshold", "--protocol", "tiny.toml", "--out", "run", "--no-leaderboard",
        env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    for model, bundle in (("resunet", "bundle"), ("threshold", "bundle-band")):
        export = _ichbench(root, "export", "run", "--model", model, "--out", bundle)
        assert export.returncode == 0, export.stderr
    write_phantom(root / "scans", subjects=2, slices=5, size=64, seed=9, layout="nifti")
    return root


def test_bundle_holds_safetensors_protocol_and_metrics(workdir: Path) -> None:
    bundle = workdir / "bundle"
    assert sorted(p.name for p in bundle.iterdir()) == [
        "bundle.json",
        "fold0.safetensors",
        "fold1.safetensors",
        "protocol.toml",
    ]
    meta = json.loads((bundle / "bundle.json").read_text())
    assert meta["model"] == "resunet" and meta["folds"] == [0, 1] and meta["model_kwargs"] == {"width": 8}
    assert meta["trained_on"] == "phantom" and "dice_paper" in meta["metrics"] and meta["ichbench"]


def test_predict_nifti_keeps_geometry_and_reports_volume(workdir: Path) -> None:
    source = workdir / "scans" / "ct_scans" / "001.nii"
    proc = _ichbench(workdir, "predict", "bundle", source, "--out", "pred1", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    out = workdir / "pred1"
    written, original = nib.load(str(out / "mask.nii.gz")), nib.load(str(source))
    np.testing.assert_allclose(written.affine, original.affine)
    assert written.shape == original.shape and written.get_data_dtype() == np.uint8
    mask = np.asarray(written.dataobj)
    summary = json.loads((out / "summary.json").read_text())
    voxel_ml = float(np.prod(original.header.get_zooms()[:3])) / 1000
    assert summary["voxels"] == int(mask.sum())
    assert summary["volume_ml"] == pytest.approx(mask.sum() * voxel_ml)
    table = pd.read_csv(out / "summary.csv")
    assert len(table) == 5 and table["area_pixels"].sum() == mask.sum()
    slices_with = set(table[table.hemorrhage].slice)
    assert {int(p.stem[-3:]) for p in (out / "overlays").glob("slice_*.png")} == slices_with
    assert summary["lesions"] >= (1 if mask.any() else 0)


def test_predict_and_evaluate_give_identical_masks(workdir: Path) -> None:
    proc = _ichbench(
        workdir,
        "evaluate",
        "bundle",
        "--data",
        "scans",
        "--out",
        "eval",
        "--leaderboard",
        "lb",
        "--device",
        "cpu",
        env={"ICHBENCH_CACHE": str(workdir / "cache")},
    )
    assert proc.returncode == 0, proc.stderr
    masks = np.load(workdir / "eval" / "predictions.npz")
    for sid in ("001", "002"):
        pred = _ichbench(
            workdir,
            "predict",
            "bundle",
            workdir / "scans" / "ct_scans" / f"{sid}.nii",
            "--out",
            f"p{sid}",
            "--device",
            "cpu",
        )
        assert pred.returncode == 0, pred.stderr
        via_predict = volume_to_slices(np.asarray(nib.load(str(workdir / f"p{sid}" / "mask.nii.gz")).dataobj))
        np.testing.assert_array_equal(via_predict, masks[sid])
    board = pd.read_csv(next((workdir / "lb").glob("scans__tiny-*.csv")))
    assert list(board.kind) == ["external"] and list(board.trained_on) == ["phantom"]
    assert (workdir / "eval" / "per_slice.csv").exists() and (workdir / "eval" / "summary.csv").exists()
    assert "external: trained on phantom" in (workdir / "lb" / "README.md").read_text()
    # The cross-data-set view: trained on, evaluated on, ensembled (the default), the bundle's own test Dice.
    own = json.loads((workdir / "bundle" / "bundle.json").read_text())["metrics"]["dice_paper"]
    assert list(board.ensemble) == ["yes"] and board.own_dice_paper.iloc[0] == pytest.approx(own, abs=1e-6)
    cross = _ichbench(workdir, "leaderboard", "--leaderboard", "lb", "--cross", env={"COLUMNS": "160"})
    assert cross.returncode == 0, cross.stderr
    line = next(x for x in cross.stdout.splitlines() if "phantom" in x and "scans" in x)
    assert re.search(rf"\byes\b.*{own:.3f}.*{float(board.dice_paper.iloc[0]):.3f}", line), line


def test_ensemble_and_slice_folder_inputs(workdir: Path) -> None:
    folder = workdir / "slices"
    folder.mkdir()
    img = volume_to_slices(np.asarray(nib.load(str(workdir / "scans" / "ct_scans" / "002.nii")).dataobj))
    from ichbench.data import window_hu

    for k, sl in enumerate(window_hu(img), start=1):
        write_gray(folder / f"{k}.png", sl)
    proc = _ichbench(workdir, "predict", "bundle", folder, "--out", "pslices", "--ensemble", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((workdir / "pslices" / "summary.json").read_text())
    assert summary["ensemble"] is True and summary["slices"] == 5 and summary["volume_ml"] is None
    assert "no voxel spacing" in proc.stderr
    single = _ichbench(workdir, "predict", "bundle", folder, "--out", "pslices1", "--no-ensemble", "--device", "cpu")
    assert (
        single.returncode == 0 and json.loads((workdir / "pslices1" / "summary.json").read_text())["ensemble"] is False
    )


def _dicom_series(folder: Path, hu: np.ndarray, series: list[str]) -> None:
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir()
    for k, (sl, uid) in enumerate(zip(hu, series)):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CTImageStorage, generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID, ds.SeriesInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID, uid
        ds.Rows, ds.Columns = sl.shape
        ds.PixelSpacing, ds.SliceThickness = [0.5, 0.5], 5.0
        ds.ImageOrientationPatient, ds.ImagePositionPatient = [1, 0, 0, 0, 1, 0], [0, 0, 5.0 * (len(hu) - k)]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.PixelData = (sl + 1024).astype(np.int16).tobytes()
        try:  # pydicom 3 writes the preamble and file meta with enforce_file_format
            pydicom.dcmwrite(str(folder / f"im{k}.dcm"), ds, enforce_file_format=True)
        except TypeError:  # pydicom 2
            ds.is_little_endian, ds.is_implicit_VR = True, False
            pydicom.dcmwrite(str(folder / f"im{k}.dcm"), ds, write_like_original=False)


def test_dicom_series_and_mixed_series(workdir: Path) -> None:
    hu = volume_to_slices(np.asarray(nib.load(str(workdir / "scans" / "ct_scans" / "001.nii")).dataobj))
    _dicom_series(workdir / "dicom", hu, ["1.2.3"] * len(hu))
    proc = _ichbench(workdir, "predict", "bundle", "dicom", "--out", "pdicom", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((workdir / "pdicom" / "summary.json").read_text())
    assert summary["slices"] == 5 and summary["spacing_mm"] == [5.0, 0.5, 0.5]
    _dicom_series(workdir / "mixed", hu, ["1.2.3", "1.2.4", "1.2.3", "1.2.3", "1.2.3"])
    bad = _ichbench(workdir, "predict", "bundle", "mixed", "--out", "pmixed")
    assert bad.returncode == 2 and "mixes 2 DICOM series" in bad.stderr


def test_bad_inputs_and_bundles(workdir: Path, tmp_path: Path) -> None:
    vol = np.asarray(nib.load(str(workdir / "scans" / "ct_scans" / "001.nii")).dataobj)
    nib.save(nib.Nifti1Image(np.stack([vol, vol], -1), np.eye(4)), str(tmp_path / "four.nii"))
    nib.save(nib.Nifti1Image(vol[:, :, 0], np.eye(4)), str(tmp_path / "two.nii"))
    nib.save(
        nib.Nifti1Image(np.clip(vol, 0, 255).astype(np.float32), np.diag([0.5, 0.5, 5, 1])),
        str(tmp_path / "windowed.nii"),
    )
    nib.save(nib.Nifti1Image(vol.astype(np.int16), np.eye(4)), str(tmp_path / "nospacing.nii"))
    cases = [
        ("four.nii", "expected a 3-D NIfTI image, got 4-D"),
        ("two.nii", "expected a 3-D NIfTI image, got 2-D"),
        ("windowed.nii", "pass --input-window brain"),
    ]
    for name, message in cases:
        proc = _ichbench(workdir, "predict", "bundle", tmp_path / name, "--out", tmp_path / "o")
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    ok = _ichbench(
        workdir, "predict", "bundle", tmp_path / "windowed.nii", "--out", tmp_path / "w", "--input-window", "brain"
    )
    assert ok.returncode == 0, ok.stderr
    nospace = _ichbench(workdir, "predict", "bundle", tmp_path / "nospacing.nii", "--out", tmp_path / "ns")
    assert nospace.returncode == 0 and "no voxel spacing" in nospace.stderr
    assert (tmp_path / "ns" / "mask.nii.gz").exists()
    assert json.loads((tmp_path / "ns" / "summary.json").read_text())["volume_ml"] is None
    for change, message in [
        ({"format": 99}, "bundle format 99 is not supported"),
        ({"ichbench": "9.0.0"}, "incompatible"),
    ]:
        bad = tmp_path / f"bundle{len(message)}"
        subprocess.run(["cp", "-r", str(workdir / "bundle"), str(bad)], check=True)
        meta = json.loads((bad / "bundle.json").read_text())
        (bad / "bundle.json").write_text(json.dumps({**meta, **change}))
        proc = _ichbench(workdir, "predict", bad, workdir / "scans" / "ct_scans" / "001.nii", "--out", tmp_path / "x")
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_predict_resamples_to_the_bundle_slice_size_and_returns_the_scan_size(workdir: Path) -> None:
    import shutil

    import torch

    from ichbench.inference.bundle import load_bundle
    from ichbench.inference.predict import predict_scan
    from ichbench.inference.scan import read_scan

    half = workdir / "bundle-half"
    shutil.copytree(workdir / "bundle", half)
    meta = json.loads((half / "bundle.json").read_text())
    assert meta["slice_shape"] == [64, 64] and meta["native_shape"] == [64, 64]  # recorded from the run
    (half / "bundle.json").write_text(json.dumps({**meta, "slice_shape": [32, 32]}))  # as if trained at 32 px
    source = workdir / "scans" / "ct_scans" / "001.nii"
    proc = _ichbench(workdir, "predict", "bundle-half", source, "--out", "pred-half", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    mask = np.asarray(nib.load(str(workdir / "pred-half" / "mask.nii.gz")).dataobj)
    assert mask.shape == nib.load(str(source)).shape  # 64 x 64 slices predicted at 32 x 32, returned at 64
    bundle = load_bundle(half)
    assert bundle.model_shape((128, 128)) == (32, 32) and bundle.protocol_at((128, 128)).post.close == 4  # 2 x 2
    scan = read_scan(source)
    np.testing.assert_array_equal(mask, scan.to_volume(predict_scan(bundle, scan, torch.device("cpu"))))


def test_the_lesion_stage_clears_a_healthy_scan_the_unfiltered_model_marks(workdir: Path) -> None:
    import shutil

    healthy = workdir / "scans" / "ct_scans" / "001.nii"
    assert not np.asarray(nib.load(str(workdir / "scans" / "masks" / "001.nii")).dataobj).any()
    plain = _ichbench(workdir, "predict", "bundle-band", healthy, "--out", "band-plain", "--device", "cpu")
    assert plain.returncode == 0, plain.stderr
    before = json.loads((workdir / "band-plain" / "summary.json").read_text())
    assert before["lesions"] > 0  # an intensity band marks blood-bright tissue in a healthy scan
    staged = workdir / "bundle-band-staged"
    shutil.copytree(workdir / "bundle-band", staged)
    toml = (staged / "protocol.toml").read_text()
    (staged / "protocol.toml").write_text(toml.replace("lesion_min_area = 0", f"lesion_min_area = {10**6}"))
    after = _ichbench(workdir, "predict", staged, healthy, "--out", "band-staged", "--device", "cpu")
    assert after.returncode == 0, after.stderr
    summary = json.loads((workdir / "band-staged" / "summary.json").read_text())
    assert summary["lesions"] == 0 and summary["voxels"] == 0
