"""Load any supported data folder into a Dataset, through the cache."""

from __future__ import annotations

import inspect
from pathlib import Path

from ichbench.data import cache
from ichbench.data.dataset import Dataset
from ichbench.data.inputs import extra_windows
from ichbench.data.readers import detect_reader
from ichbench.data.scale import downsample, factor
from ichbench.errors import DataError


def load_dataset(
    root: Path,
    bone: bool = False,
    use_cache: bool = True,
    cache_dir: Path | None = None,
    scale: float = 1.0,
    subdural: bool = False,
    classes: tuple[str, ...] = (),
) -> Dataset:
    """Detect, read and validate a data folder, downsampled by `scale` (see data.scale), with the bone and
    subdural windows when asked, the named `classes` as hemorrhage (a layout with voxel classes; default
    all); a second load of unchanged files comes from the cache."""
    root = Path(root)
    reader = detect_reader(root)
    extra = extra_windows(bone, subdural)
    if subdural and "subdural" not in inspect.signature(reader.read).parameters:
        raise DataError(
            f"{root}: the {reader.name} layout holds no Hounsfield units, so it cannot give the subdural window "
            "(level 80, width 200); use a NIfTI release or drop 'subdural' from [input] channels"
        )
    if classes and "classes" not in inspect.signature(reader.read).parameters:
        raise DataError(f"{root}: the {reader.name} layout holds no voxel classes to choose {list(classes)} from")
    options = {name: True for name in extra} | ({"classes": tuple(classes)} if classes else {})
    cache_dir = Path(cache_dir or cache.default_cache_dir())
    signature = cache.tree_signature(root) if use_cache else None
    key = cache.fingerprint(root, cache_dir, signature)
    f = factor(scale)
    entry = cache.entry_dir(cache_dir, reader.name, key, extra, f, tuple(classes))
    subjects = cache.load_cached(entry) if use_cache else None
    if subjects is None:
        subjects = [downsample(s, f) for s in reader.read(root, **options)]
        if use_cache:
            cache.store(entry, subjects)
            cache.remember_fingerprint(cache_dir, signature, key)
    name = root.resolve().name
    return Dataset(name=name, layout=reader.name, fingerprint=key, subjects=subjects)
