"""The public hemorrhage data sets ichbench knows by name: what each holds, its layout and classes, its
licence, where a user obtains it, and the protocol preset whose test defines its leaderboard table.

Nothing here is downloaded (only the CT-ICH releases can be fetched, `ichbench data fetch`): each set is
obtained by its user under its own terms, converted to the layout named here if it does not come in it,
and read from a folder named as the set (the folder's name names the leaderboard table).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NamedDataset:
    """One public data set: how ichbench reads it and under which test its rows are compared."""

    name: str  # the folder name, and so the name of its leaderboard tables
    layout: str  # the reader that opens it
    holds: str
    classes: str  # its classes as its own files name them
    licence: str
    obtain: str
    protocol: str  # the preset whose test (folds, exclusions, scoring) defines its table


NAMED = {
    d.name: d
    for d in (
        NamedDataset(
            "ctich-1.0.0", "ctich-1.0.0", "82 patients, 2,501 JPG slices of 650 px (640 after cropping), 318 masks; "
            "per-slice labels of the five types", "one mask per slice; types as slice labels", "CC BY 4.0",
            "PhysioNet (doi:10.13026/w8q8-ky94): `ichbench data fetch --version 1.0.0`", "paper",
        ),
        NamedDataset(
            "ctich-1.3.1", "ctich-1.3.1", "the same 82 patients as NIfTI volumes in HU, 512 px",
            "one mask per volume; types as slice labels", "PhysioNet Credentialed Health Data License 1.5.0",
            "PhysioNet, credentialed: `ichbench data fetch --version 1.3.1`", "paper-nifti",
        ),
        NamedDataset(
            "bhsd", "nnunet-raw", "192 CT volumes (RSNA 2019 scans) with voxel masks in five classes; its 2,200 "
            "volumes with slice labels only are not read", "EDH, IPH, IVH, SAH, SDH (by name, any values)",
            "MIT (the BHSD repository); the RSNA 2019 terms of its scans apply too",
            "Kaggle data set stevezeyuzhang/bhsd-dataset, linked from github.com/White65534/BHSD; put the "
            "labelled volumes in nnU-Net's raw layout", "bhsd",
        ),
        NamedDataset(
            "mbh-seg", "nnunet-raw", "the MICCAI MBH-Seg challenge's labelled volumes, on BHSD's labels",
            "EDH 1, IPH 2, IVH 3, SAH 4, SDH 5", "the challenge's data agreement (registration)",
            "the MBH-Seg challenge site, after registering; its published conversion writes nnU-Net's raw layout",
            "bhsd",
        ),
        NamedDataset(
            "instance-2022", "nnunet-raw", "100 labelled training volumes (MICCAI 2022), 0.42 x 0.42 x 5 mm; the 30 "
            "validation and 70 test volumes have no public labels", "hemorrhage 1 (binary: no types)",
            "the challenge's data agreement (instance.grand-challenge.org); not confirmed here",
            "the INSTANCE 2022 challenge site, after registering; rename to nnU-Net's raw layout", "instance",
        ),
    )
}  # fmt: skip
