"""nnU-Net raw data sets (data.readers.nnunet_raw): the phantom written in that layout, 3-D and 2-D, reads back
as the same subjects as the CT-ICH layouts give; classes choose what counts; bad input is one clear error."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from ichbench.data import SUBTYPES, load_dataset
from ichbench.data.phantom.write import NNUNET_LABELS, generate, write_phantom
from ichbench.errors import DataError

PHANTOM = dict(subjects=5, slices=6, size=96, seed=3)


@pytest.fixture(scope="module")
def raw3d(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_phantom(tmp_path_factory.mktemp("nn") / "raw3d", layout="nnunet-3d", **PHANTOM)


@pytest.fixture(scope="module")
def raw2d(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_phantom(tmp_path_factory.mktemp("nn") / "raw2d", layout="nnunet-2d", **PHANTOM)


@pytest.fixture(scope="module")
def nifti(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_phantom(tmp_path_factory.mktemp("nn") / "nifti", layout="nifti", **PHANTOM)


def test_the_layout_is_nnunets(raw3d: Path, raw2d: Path) -> None:
    doc = json.loads((raw3d / "dataset.json").read_text())
    assert doc == {"channel_names": {"0": "CT"}, "labels": NNUNET_LABELS, "numTraining": 5, "file_ending": ".nii.gz"}
    assert sorted(p.name for p in (raw3d / "imagesTr").iterdir())[0] == "001_0000.nii.gz"
    assert (raw3d / "labelsTr" / "005.nii.gz").is_file() and len(NNUNET_LABELS) == 6  # background + 5 types
    assert json.loads((raw2d / "dataset.json").read_text())["numTraining"] == 5 * 6
    assert (raw2d / "imagesTr" / "003_06_0000.png").is_file() and (raw2d / "labelsTr" / "003_06.png").is_file()


def test_3d_reads_as_the_ct_ich_nifti_layout_does(raw3d: Path, nifti: Path, isolated_cache: Path) -> None:
    raw, ref = load_dataset(raw3d), load_dataset(nifti)
    assert raw.layout == "nnunet-raw" and [s.id for s in raw.subjects] == ["001", "002", "003", "004", "005"]
    for a, b in zip(raw.subjects, ref.subjects):
        assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
        assert np.array_equal(a.labels, b.labels) and np.array_equal(a.slice_numbers, b.slice_numbers)
        assert a.spacing == pytest.approx(b.spacing)
    # The voxel classes are the generator's, type by type.
    volumes = generate(**PHANTOM)
    stored = nib.load(str(raw3d / "labelsTr" / "001.nii.gz"))
    assert np.asarray(stored.dataobj).max() == volumes[0].classes.max()


def test_2d_groups_slices_into_subjects(raw2d: Path, nifti: Path, isolated_cache: Path) -> None:
    raw, ref = load_dataset(raw2d), load_dataset(nifti)
    assert [s.id for s in raw.subjects] == [s.id for s in ref.subjects]
    for a, b in zip(raw.subjects, ref.subjects):
        assert np.array_equal(a.mask, b.mask) and np.array_equal(a.labels, b.labels)
        assert a.slice_numbers.tolist() == list(range(1, 7)) and a.spacing is None
        # PNG of the float HU against the NIfTI's HU rounded to integers: at most one grey level apart.
        assert np.abs(a.image.astype(int) - b.image.astype(int)).max() <= 3


@pytest.mark.parametrize("layout", ["raw3d", "raw2d"])
def test_classes_choose_what_counts(layout: str, request: pytest.FixtureRequest, isolated_cache: Path) -> None:
    root = request.getfixturevalue(layout)
    everything = load_dataset(root)
    kinds = {SUBTYPES[i] for s in everything.subjects for i in np.flatnonzero(s.labels[:, :5].any(0))}
    kind = sorted(kinds)[0]
    only = load_dataset(root, classes=(kind.lower(),))
    by_abbreviation = load_dataset(root, classes=({"Epidural": "EDH", "Intraventricular": "IVH"}.get(kind, kind),))
    for a, b, c in zip(everything.subjects, only.subjects, by_abbreviation.subjects):
        assert np.array_equal(b.mask, c.mask)
        assert (b.mask <= a.mask).all()  # a subset of the union
        flagged = b.labels[:, SUBTYPES.index(kind)]
        assert np.array_equal(flagged, a.labels[:, SUBTYPES.index(kind)])
        others = [i for i, t in enumerate(SUBTYPES) if t != kind]
        assert not b.labels[:, others].any()
        assert np.array_equal(b.labels[:, 5], 1 - b.mask.reshape(len(b.mask), -1).any(1))  # No_Hemorrhage
    assert sum(int(s.mask.sum()) for s in only.subjects) < sum(int(s.mask.sum()) for s in everything.subjects)
    with pytest.raises(DataError, match=r"dataset.json: no class 'fracture'"):
        load_dataset(root, classes=("fracture",))


def test_classes_need_a_layout_that_has_them(nifti: Path, isolated_cache: Path) -> None:
    with pytest.raises(DataError, match="holds no voxel classes"):
        load_dataset(nifti, classes=("subdural",))


def _json(root: Path, **changes: object) -> None:
    doc = json.loads((root / "dataset.json").read_text()) | changes
    (root / "dataset.json").write_text(json.dumps({k: v for k, v in doc.items() if v is not None}))


def malformed_json(root: Path) -> str:
    (root / "dataset.json").write_text("{not json")
    return r"dataset.json: not a readable JSON file"


def missing_key(root: Path) -> str:
    _json(root, file_ending=None)
    return r"dataset.json: missing key\(s\) file_ending"


def wrong_count(root: Path) -> str:
    _json(root, numTraining=7)
    return r"dataset.json: numTraining is 7, but labelsTr holds 5 case\(s\)"


def region_labels(root: Path) -> str:
    _json(root, labels={"background": 0, "hemorrhage": [1, 2]})
    return r"dataset.json: labels\['hemorrhage'\] must be a value"


def missing_label(root: Path) -> str:
    (root / "labelsTr" / "004.nii.gz").unlink()
    return r"labelsTr/004.nii.gz: label missing for .*imagesTr/004_0000.nii.gz"


def missing_image(root: Path) -> str:
    (root / "imagesTr" / "002_0000.nii.gz").unlink()
    return r"imagesTr/002_0000.nii.gz: image missing for label"


def unknown_class(root: Path) -> str:
    path = root / "labelsTr" / "003.nii.gz"
    label = nib.load(str(path))
    data = np.asarray(label.dataobj).copy()
    data[0, 0, 0] = 9
    nib.save(nib.Nifti1Image(data, label.affine, label.header), str(path))
    return r"labelsTr/003.nii.gz: class value\(s\) \[9\] not among dataset.json's labels"


def other_spacing(root: Path) -> str:
    path = root / "labelsTr" / "001.nii.gz"
    label = nib.load(str(path))
    nib.save(nib.Nifti1Image(np.asarray(label.dataobj), np.diag([1.0, 1.0, 2.0, 1.0])), str(path))
    return r"labelsTr/001.nii.gz: voxel spacing .* differs from its image's"


@pytest.mark.parametrize(
    "damage",
    [
        malformed_json,
        missing_key,
        wrong_count,
        region_labels,
        missing_label,
        missing_image,
        unknown_class,
        other_spacing,
    ],
)
def test_bad_raw_data_set(raw3d: Path, tmp_path: Path, damage, cli, isolated_cache: Path) -> None:
    root = Path(shutil.copytree(raw3d, tmp_path / "bad"))
    message = damage(root)
    proc = cli("data", "check", root)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("ichbench: error:"), proc.stderr
    assert re.search(message, proc.stderr), proc.stderr
    assert not any(p.name.startswith("nnunet-raw") for p in isolated_cache.iterdir()), "nothing cached"


def test_a_bad_2d_label_names_its_file(raw2d: Path, tmp_path: Path, cli, isolated_cache: Path) -> None:
    from PIL import Image

    root = Path(shutil.copytree(raw2d, tmp_path / "bad2d"))
    Image.new("RGB", (96, 96)).save(root / "labelsTr" / "002_03.png")
    proc = cli("data", "check", root)
    assert proc.returncode == 2 and "labelsTr/002_03.png: a label map must be a one-channel image" in proc.stderr


@pytest.mark.slow
def test_run_and_evaluate_on_raw_data_sets(tmp_path: Path, cli, isolated_cache: Path) -> None:
    """`ichbench run --protocol quick` on a 3-D NIfTI set with 5 classes, a bundle of it evaluated on a 2-D PNG
    set: both score, with the hemorrhage types of their voxel classes in the per-slice rows and the report."""
    import pandas as pd

    quick = dict(subjects=20, slices=4, size=64, seed=0)  # the quick protocol's phantom, as raw data sets
    volumes = write_phantom(tmp_path / "raw3d", layout="nnunet-3d", **quick)
    slices = write_phantom(tmp_path / "raw2d", layout="nnunet-2d", **(quick | {"seed": 5}))
    assert cli("data", "check", volumes).returncode == 0 and cli("data", "check", slices).returncode == 0
    run = cli("run", "--models", "unet,threshold", "--protocol", "quick", "--data", volumes, "--out", tmp_path / "run",
              "--no-leaderboard")  # fmt: skip
    assert run.returncode == 0, run.stderr
    per_slice = pd.read_csv(tmp_path / "run" / "per_slice.csv")
    assert {t.lower() for t in SUBTYPES} <= set(per_slice.columns)
    assert per_slice[[t.lower() for t in SUBTYPES]].to_numpy().sum() > 0
    report = cli("report", tmp_path / "run", "--out", tmp_path / "report")
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "report" / "report.md").read_text()
    assert "## Dice by hemorrhage type" in text and "## Lesion sensitivity by hemorrhage type" in text
    assert cli("export", tmp_path / "run", "--model", "unet", "--out", tmp_path / "bundle").returncode == 0
    external = cli("evaluate", tmp_path / "bundle", "--data", slices, "--out", tmp_path / "ext", "--no-leaderboard")
    assert external.returncode == 0, external.stderr
    scored = pd.read_csv(tmp_path / "ext" / "per_slice.csv", dtype={"subject": str})
    assert scored["subject"].nunique() == 20 and (scored["truth_pixels"] > 0).any()


def test_named_data_sets_name_a_reader_and_a_protocol(cli) -> None:
    from ichbench.data.named import NAMED
    from ichbench.data.readers import available_readers
    from ichbench.protocol import load_protocol, presets

    readers = {r.name for r in available_readers()}
    for d in NAMED.values():
        assert d.layout in readers and d.protocol in presets() and d.licence and d.obtain
        assert load_protocol(d.protocol).metrics.native  # scored at the set's own resolution
    assert load_protocol("bhsd").data.exclude == ()  # CT-ICH's exclusion is not carried over
    listed = json.loads(cli("data", "list", "--json").stdout)
    assert {d["name"] for d in listed} >= {"bhsd", "mbh-seg", "instance-2022", "ctich-1.0.0"}


def test_bhsd_class_names_map_to_types(raw3d: Path, tmp_path: Path, isolated_cache: Path) -> None:
    """BHSD and MBH-Seg name their classes by abbreviation, in another order: the types follow the names."""
    root = Path(shutil.copytree(raw3d, tmp_path / "bhsd"))
    ours = {v: k for k, v in NNUNET_LABELS.items()}
    abbreviation = {"epidural": "EDH", "intraparenchymal": "IPH", "intraventricular": "IVH", "subarachnoid": "SAH",
                    "subdural": "SDH"}  # fmt: skip
    _json(root, labels={"background": 0} | {abbreviation[ours[v]]: v for v in range(1, 6)})
    renamed, original = load_dataset(root), load_dataset(raw3d)
    for a, b in zip(renamed.subjects, original.subjects):
        assert np.array_equal(a.labels, b.labels) and np.array_equal(a.mask, b.mask)
