"""The phantom as a data set: generated once into the cache, then read by the regular reader."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from filelock import FileLock

from ichbench.data.cache import default_cache_dir
from ichbench.data.dataset import Dataset
from ichbench.data.load import load_dataset
from ichbench.data.phantom.volume import VERSION
from ichbench.data.phantom.write import write_phantom


def phantom_dataset(
    spec: object,
    cache_dir: Path | None = None,
    scale: float = 1.0,
    bone: bool = False,
    subdural: bool = False,
    classes: tuple[str, ...] = (),
) -> Dataset:
    """The phantom described by a spec (subjects, slices, size, seed), in the v1.0.0 JPG layout; in the
    v1.3.1 NIfTI layout when the subdural window is asked for, which only Hounsfield units can give; in
    nnU-Net's raw 3-D layout when only some `classes` count, which only voxel classes can give."""
    params = asdict(spec)
    cache_dir = Path(cache_dir or default_cache_dir())
    layout = "nnunet-3d" if classes else "nifti" if subdural else "jpg"
    name = "phantom-v{v}-{subjects}x{slices}x{size}-seed{seed}".format(v=VERSION, **params)
    folder = cache_dir / (name if layout == "jpg" else f"{name}-{layout}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock", timeout=600):  # two runs may start at once
        if not (folder / "phantom.json").exists():
            write_phantom(folder, layout=layout, **params)
    ds = load_dataset(folder, cache_dir=cache_dir, scale=scale, bone=bone, subdural=subdural, classes=classes)
    ds.name = "phantom"
    return ds
