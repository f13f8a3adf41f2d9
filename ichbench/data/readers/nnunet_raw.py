"""Reader of data sets in nnU-Net's raw format, the field's convention for keeping segmentation data:

    dataset.json                       channel_names, labels (name -> value, background 0), numTraining,
                                       file_ending (".nii.gz", ".nii" or ".png")
    imagesTr/CASE_0000<file_ending>    the image (channel 0000, the CT; other channels are not read)
    labelsTr/CASE<file_ending>         its label map: 0 background, each class its value

3-D NIfTI holds Hounsfield units and is windowed as the CT-ICH NIfTI release is (the brain window, and the
bone and subdural windows when asked), with its voxel spacing kept. 2-D PNG images are taken as already in
the brain window; a 2-D case named SUBJECT_N (N a whole number) is slice N of SUBJECT, any other is a
subject of one slice. Every class but the background is hemorrhage unless `classes` names the ones that
count. Each slice's type flags come from the classes its label holds, a class matched to a hemorrhage type
by its name (TYPE_NAMES); a class of no known type (say "hemorrhage") marks hemorrhage without a type. A
case without any counted label voxel is a hemorrhage-free subject.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ichbench.data.dataset import LABELS, SUBTYPES, Subject, window_hu
from ichbench.data.inputs import extra_windows, hu_planes
from ichbench.data.readers import Reader
from ichbench.data.readers.imageio import read_gray, read_label_image, read_nifti, volume_to_slices
from ichbench.errors import DataError

DATASET_JSON = "dataset.json"
REQUIRED = ("channel_names", "labels", "numTraining", "file_ending")
ENDINGS = (".nii.gz", ".nii", ".png")
# The class names (lower case) by which published data sets name each type.
TYPE_NAMES = {
    "Intraventricular": ("intraventricular", "ivh"),
    "Intraparenchymal": ("intraparenchymal", "iph", "intracerebral"),
    "Subarachnoid": ("subarachnoid", "sah"),
    "Epidural": ("epidural", "edh", "extradural"),
    "Subdural": ("subdural", "sdh"),
}
NO_HEMORRHAGE = LABELS.index("No_Hemorrhage")


@dataclass(frozen=True)
class RawSpec:
    """A checked dataset.json: the file ending, the classes (name -> value) and the cases."""

    path: Path
    file_ending: str
    labels: dict[str, int]
    cases: tuple[str, ...]

    @property
    def volumes(self) -> bool:
        """3-D NIfTI cases (else 2-D images)."""
        return self.file_ending != ".png"

    def name_of(self, value: int) -> str:
        """A class value's name in dataset.json."""
        return next(n for n, v in self.labels.items() if v == value)

    def type_of(self, value: int) -> str | None:
        """The hemorrhage type (a SUBTYPES name) of a class value, None for a class of no known type."""
        name = self.name_of(value).lower()
        return next((t for t, names in TYPE_NAMES.items() if any(k in name for k in names)), None)

    def aliases(self, value: int) -> set[str]:
        """The lower-case names `classes` may choose a class value by: its own, its type's and the type's."""
        kind = self.type_of(value)
        return {self.name_of(value).lower()} | ({kind.lower(), *TYPE_NAMES[kind]} if kind else set())

    def counted(self, classes: tuple[str, ...] = ()) -> set[int]:
        """The class values that count as hemorrhage: all but the background, or those named in `classes`
        (by their dataset.json name or a type's name or abbreviation, in any case)."""
        foreground = {v for v in self.labels.values() if v != 0}
        if not classes:
            return foreground
        chosen = set()
        for wanted in classes:
            hits = {v for v in foreground if wanted.lower() in self.aliases(v)}
            if not hits:
                known = ", ".join(n for n, v in self.labels.items() if v != 0)
                raise DataError(f"{self.path}: no class {wanted!r} to count as hemorrhage (its classes: {known})")
            chosen |= hits
        return chosen


def read_spec(root: Path) -> RawSpec:
    """dataset.json, checked against the folder: its keys and values, and every case's image and label."""
    path = Path(root) / DATASET_JSON
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(doc, dict):
        raise DataError(f"{path}: expected a JSON object")
    missing = [k for k in REQUIRED if k not in doc]
    if missing:
        raise DataError(f"{path}: missing key(s) {', '.join(missing)}")
    labels = _labels(path, doc["labels"])
    ending = doc["file_ending"]
    if ending not in ENDINGS:
        raise DataError(f"{path}: file_ending must be one of {', '.join(ENDINGS)}, got {ending!r}")
    if not isinstance(doc["numTraining"], int) or isinstance(doc["numTraining"], bool):
        raise DataError(f"{path}: numTraining must be a whole number, got {doc['numTraining']!r}")
    cases = _cases(Path(root), ending)
    if len(cases) != doc["numTraining"]:
        raise DataError(f"{path}: numTraining is {doc['numTraining']}, but labelsTr holds {len(cases)} case(s)")
    return RawSpec(path, ending, labels, tuple(cases))


def _labels(path: Path, labels: object) -> dict[str, int]:
    if not isinstance(labels, dict) or not labels:
        raise DataError(f"{path}: labels must map class names to values")
    for name, value in labels.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 255:
            raise DataError(
                f"{path}: labels[{name!r}] must be a value 0..255, got {value!r} (region-based labels are not read)"
            )
    if labels.get("background") != 0:
        raise DataError(f"{path}: labels must give background the value 0")
    if len(set(labels.values())) != len(labels):
        raise DataError(f"{path}: labels give two classes the same value")
    return dict(labels)


def _cases(root: Path, ending: str) -> list[str]:
    images, labels = root / "imagesTr", root / "labelsTr"
    for folder in (images, labels):
        if not folder.is_dir():
            raise DataError(f"{folder}: missing (nnU-Net raw layout)")
    cases = sorted(p.name[: -len(ending)] for p in labels.iterdir() if p.name.endswith(ending))
    for case in cases:
        if not (images / f"{case}_0000{ending}").is_file():
            raise DataError(f"{images / f'{case}_0000{ending}'}: image missing for label {labels / (case + ending)}")
    unlabelled = sorted(
        p.name
        for p in images.iterdir()
        if p.name.endswith(f"_0000{ending}") and p.name[: -len(ending) - 5] not in cases
    )
    if unlabelled:
        raise DataError(
            f"{labels / (unlabelled[0][: -len(ending) - 5] + ending)}: label missing for {images / unlabelled[0]}"
        )
    return cases


def read_nnunet_raw(
    root: Path, bone: bool = False, subdural: bool = False, classes: tuple[str, ...] = ()
) -> list[Subject]:
    """Every case of an nnU-Net raw data set as subjects (see the module docstring)."""
    spec = read_spec(root)
    counted = spec.counted(tuple(classes))
    if spec.volumes:
        return [_volume(Path(root), spec, case, counted, extra_windows(bone, subdural)) for case in spec.cases]
    if bone or subdural:
        raise DataError(f"{spec.path}: 2-D images hold no Hounsfield units, so no bone or subdural window")
    groups: dict[str, list[tuple[int, str]]] = {}
    for case in spec.cases:
        match = re.fullmatch(r"(.+)_(\d+)", case)
        subject, n = (match.group(1), int(match.group(2))) if match else (case, 1)
        groups.setdefault(subject, []).append((n, case))
    return [_slices(Path(root), spec, subject, sorted(items), counted) for subject, items in groups.items()]


def _volume(root: Path, spec: RawSpec, case: str, counted: set[int], extra: tuple[str, ...]) -> Subject:
    image_path = root / "imagesTr" / f"{case}_0000{spec.file_ending}"
    label_path = root / "labelsTr" / f"{case}{spec.file_ending}"
    hu, img = read_nifti(image_path)
    values, lab = read_nifti(label_path)
    if values.shape != hu.shape:
        raise DataError(f"{label_path}: shape {values.shape} differs from its image's {hu.shape}")
    zooms, label_zooms = img.header.get_zooms()[:3], lab.header.get_zooms()[:3]
    if not np.allclose(zooms, label_zooms, rtol=1e-3):
        raise DataError(f"{label_path}: voxel spacing {label_zooms} differs from its image's {zooms}")
    hu_slices = volume_to_slices(hu)
    classes = _classes(label_path, volume_to_slices(values), spec)
    mask, labels = _truth(classes, spec, counted)
    return Subject(
        id=case,
        image=window_hu(hu_slices),
        mask=mask,
        labels=labels,
        slice_numbers=np.arange(1, len(mask) + 1, dtype=np.int64),
        **hu_planes(hu_slices, extra),
        spacing=(float(zooms[2]), float(zooms[1]), float(zooms[0])),
    )


def _slices(root: Path, spec: RawSpec, subject: str, items: list[tuple[int, str]], counted: set[int]) -> Subject:
    images, classes = [], []
    for _, case in items:
        image = read_gray(root / "imagesTr" / f"{case}_0000.png")
        label_path = root / "labelsTr" / f"{case}.png"
        values = read_label_image(label_path)
        if values.shape != image.shape or (images and image.shape != images[0].shape):
            raise DataError(f"{label_path}: shape {values.shape} differs from its image's or its subject's slices")
        images.append(image)
        classes.append(_classes(label_path, values[None], spec)[0])
    mask, labels = _truth(np.stack(classes), spec, counted)
    numbers = np.array([n for n, _ in items], np.int64)
    return Subject(id=subject, image=np.stack(images), mask=mask, labels=labels, slice_numbers=numbers)


def _classes(path: Path, values: np.ndarray, spec: RawSpec) -> np.ndarray:
    """The label map as uint8 class values, each one dataset.json lists."""
    if not np.array_equal(values, np.rint(values)):
        raise DataError(f"{path}: label values must be whole numbers")
    unknown = sorted(set(np.unique(values).astype(int).tolist()) - set(spec.labels.values()))
    if unknown:
        raise DataError(f"{path}: class value(s) {unknown} not among {spec.path.name}'s labels")
    return values.astype(np.uint8)


def _truth(classes: np.ndarray, spec: RawSpec, counted: set[int]) -> tuple[np.ndarray, np.ndarray]:
    """The hemorrhage mask (the counted classes) and each slice's flags (its types; No_Hemorrhage if empty)."""
    mask = np.isin(classes, sorted(counted)).astype(np.uint8)
    labels = np.zeros((len(classes), len(LABELS)), np.uint8)
    for value in counted:
        kind = spec.type_of(value)
        if kind is not None:
            labels[:, SUBTYPES.index(kind)] |= (classes == value).reshape(len(classes), -1).any(1)
    labels[:, NO_HEMORRHAGE] = ~mask.reshape(len(mask), -1).any(1)
    return mask, labels


READER = Reader(
    "nnunet-raw",
    f"{DATASET_JSON} + imagesTr/ + labelsTr/ (nnU-Net raw)",
    lambda root: (Path(root) / DATASET_JSON).is_file(),
    read_nnunet_raw,
    priority=30,
)
