"""Fuzzing: for inputs nobody listed, the only outcomes are a correct result or one of ichbench's own errors.

Property-based (hypothesis), derandomized and bounded (a fixed number of examples, a per-example deadline),
over the protocol parser, the diagnosis CSV and manifest readers, image and NIfTI readers, split files,
bundles and the post-processing inputs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ichbench.errors import IchbenchError

junk = st.binary(max_size=2048)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**12), 10**12), st.floats(allow_nan=True), st.text(max_size=20)
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not np.isfinite(value):
        return "nan" if np.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)


SECTIONS = {
    "data": ["exclude", "scale"],
    "cv": ["folds", "seed", "val_fraction"],
    "windows": ["size", "stride"],
    "augmentation": ["rotation", "shift", "shear", "zoom"],
    "training": ["epochs", "batch_size", "lr", "loss", "select", "optimizer", "seed"],
    "post": ["threshold", "threshold_search", "threshold_grid", "weighting", "close", "open"],
    "metrics": ["detection_pixels"],
    "phantom": ["subjects", "slices", "size", "seed"],
}
toml_scalars = st.one_of(st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=True), st.text(max_size=12))
toml_values = toml_scalars | st.lists(toml_scalars, max_size=5)


@st.composite
def protocol_texts(draw: st.DrawFn) -> str:
    """A TOML protocol with random values (of any type) for real keys, sometimes unknown keys or sections."""
    lines = ['name = "fuzz"']
    for section, keys in SECTIONS.items():
        chosen = draw(st.lists(st.sampled_from(keys), unique=True, max_size=len(keys)))
        extra = draw(st.lists(st.text("abcxyz_", min_size=1, max_size=6), max_size=1))
        if chosen or extra:
            lines.append(f"[{section}]")
            lines += [f"{k} = {_toml_value(draw(toml_values))}" for k in chosen + extra]
    return "\n".join(lines) + "\n"


@given(text=protocol_texts() | st.text(max_size=300))
def test_protocol_parser(text: str) -> None:
    from ichbench.protocol import Protocol, parse_protocol

    try:
        protocol = parse_protocol(text, "fuzz.toml")
    except IchbenchError:
        return
    assert isinstance(protocol, Protocol) and len(protocol.hash) == 12
    assert parse_protocol(protocol.to_toml(), "again").hash == protocol.hash  # what it accepts, it writes back


@given(data=junk | st.text(max_size=500).map(str.encode), header=st.booleans())
def test_diagnosis_csv(tmp_path: Path, data: bytes, header: bool) -> None:
    from ichbench.data.readers.diagnosis import read_diagnosis

    path = tmp_path / "hemorrhage_diagnosis.csv"
    prefix = (
        b"PatientNumber,SliceNumber,Intraventricular,Intraparenchymal,Subarachnoid,Epidural,Subdural,No_Hemorrhage\n"
    )
    path.write_bytes((prefix if header else b"") + data)
    try:
        rows = read_diagnosis(path)
    except IchbenchError:
        return
    assert rows and all(isinstance(p, int) for p in rows)


@given(data=junk | st.text(max_size=500).map(str.encode))
def test_folder_manifest(tmp_path: Path, data: bytes) -> None:
    from ichbench.data.readers.folder import read_folder

    root = tmp_path / "set"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    (root / "manifest.csv").write_bytes(b"subject,slice,image,mask\n" + data)
    try:
        subjects = read_folder(root)
    except IchbenchError:
        return
    assert all(s.images.shape == s.masks.shape for s in subjects)


@pytest.fixture(scope="module")
def real_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A valid JPG slice and NIfTI volume to damage."""
    from ichbench.data.readers.imageio import write_gray

    folder = tmp_path_factory.mktemp("valid")
    write_gray(folder / "a.jpg", (np.arange(64 * 64) % 251).reshape(64, 64).astype(np.uint8))
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 3), np.int16), np.eye(4)), str(folder / "a.nii.gz"))
    return {"jpg": (folder / "a.jpg").read_bytes(), "nii.gz": (folder / "a.nii.gz").read_bytes()}


@st.composite
def damaged(draw: st.DrawFn, valid: bytes) -> bytes:
    """A valid file truncated, with flipped bytes, or replaced by random bytes."""
    how = draw(st.sampled_from(["truncate", "flip", "random"]))
    if how == "truncate":
        return valid[: draw(st.integers(0, len(valid) - 1))]
    if how == "flip":
        data = bytearray(valid)
        for i in draw(st.lists(st.integers(0, len(valid) - 1), min_size=1, max_size=8)):
            data[i] ^= 0xFF
        return bytes(data)
    return draw(junk)


@given(data=st.data())
def test_image_reader(tmp_path: Path, real_files: dict[str, bytes], data: st.DataObject) -> None:
    from ichbench.data.readers.imageio import read_gray

    path = tmp_path / "slice.jpg"
    path.write_bytes(data.draw(damaged(real_files["jpg"])))
    try:
        image = read_gray(path)
    except IchbenchError:
        return
    assert image.ndim == 2 and image.dtype == np.uint8


nifti_arrays = st.builds(
    lambda dtype, shape: np.zeros(shape, dtype),
    st.sampled_from([np.uint8, np.int16, np.float32, np.float64, np.int64, np.complex64, np.bool_]),
    st.lists(st.integers(1, 6), min_size=1, max_size=5).map(tuple),
)


@given(data=st.data())
def test_nifti_reader(tmp_path: Path, real_files: dict[str, bytes], data: st.DataObject) -> None:
    from ichbench.data.readers.imageio import read_nifti

    path = tmp_path / "volume.nii.gz"
    array = None
    if data.draw(st.booleans()):
        path.write_bytes(data.draw(damaged(real_files["nii.gz"])))
    else:
        array = data.draw(nifti_arrays)
        try:
            nib.save(nib.Nifti1Image(array, np.eye(4)), str(path))
        except Exception:  # a type NIfTI itself cannot hold: nothing for ichbench to read
            return
    try:
        volume, _ = read_nifti(path)
    except IchbenchError:
        return
    assert volume.ndim == 3 and np.isfinite(volume).all()
    if array is not None:  # never a silently different shape
        assert volume.shape == array.shape


fold_docs = st.fixed_dictionaries(
    {
        "fold": json_values | st.integers(0, 4),
        **{k: json_values | st.lists(st.sampled_from("abcd"), max_size=3) for k in ("train", "val", "test")},
    }
)


@given(
    doc=json_values | st.fixed_dictionaries({"folds": json_values | st.lists(fold_docs, max_size=3)}),
    raw=st.booleans(),
    data=junk,
)
def test_split_files(tmp_path: Path, doc: object, raw: bool, data: bytes) -> None:
    from ichbench.data.splits import load_splits

    path = tmp_path / "splits.json"
    path.write_bytes(data if raw else json.dumps(doc).encode())
    for dataset in (None, SimpleNamespace(ids=["a", "b", "c"])):
        try:
            folds = load_splits(path, dataset)
        except IchbenchError:
            continue
        assert all(isinstance(f.fold, int) and all(isinstance(s, str) for s in f.test) for f in folds)


@pytest.fixture(scope="module")
def bundle_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The files of a valid bundle (the fitted threshold model, fold 0)."""
    from safetensors.torch import save_file

    from ichbench import __version__
    from ichbench.inference.bundle import FORMAT
    from ichbench.models.registry import create_model
    from ichbench.protocol import load_protocol

    folder = tmp_path_factory.mktemp("bundle")
    save_file(create_model("threshold").state_dict(), str(folder / "fold0.safetensors"))
    meta = {
        "format": FORMAT,
        "ichbench": __version__,
        "model": "threshold",
        "model_kwargs": {},
        "folds": [0],
        "thresholds": {"0": 0.5},
        "protocol": "quick",
        "protocol_hash": "x",
        "trained_on": "phantom",
    }
    return {
        "bundle.json": json.dumps(meta).encode(),
        "protocol.toml": load_protocol("quick").to_toml().encode(),
        "fold0.safetensors": (folder / "fold0.safetensors").read_bytes(),
    }


@given(data=st.data())
def test_bundles(tmp_path: Path, bundle_files: dict[str, bytes], data: st.DataObject) -> None:
    from ichbench.inference.bundle import load_bundle

    folder = tmp_path / "bundle"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    files = dict(bundle_files)
    name = data.draw(st.sampled_from(sorted(files)))
    if name == "bundle.json" and data.draw(st.booleans()):  # valid JSON, wrong contents
        meta = json.loads(files[name])
        meta[data.draw(st.sampled_from(sorted(meta)))] = data.draw(json_values)
        files[name] = json.dumps(meta).encode()
    elif data.draw(st.booleans()):
        files[name] = data.draw(damaged(files[name]))
    else:
        del files[name]
    for key, content in files.items():
        (folder / key).write_bytes(content)
    try:
        bundle = load_bundle(folder)
    except IchbenchError:
        return
    assert sorted(bundle.models) == bundle.meta["folds"]
