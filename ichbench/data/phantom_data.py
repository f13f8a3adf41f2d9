"""The phantom as a data set: generated once into the cache, then read by the regular reader."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from filelock import FileLock

from ichbench.data.cache import default_cache_dir
from ichbench.data.dataset import Dataset
from ichbench.data.load import load_dataset
from ichbench.data.phantom import VERSION
from ichbench.data.phantom_write import write_phantom


def phantom_dataset(spec: object, cache_dir: Path | None = None, scale: float = 1.0) -> Dataset:
    """The phantom described by a spec (subjects, slices, size, seed), in the v1.0.0 JPG layout."""
    params = asdict(spec)
    cache_dir = Path(cache_dir or default_cache_dir())
    folder = cache_dir / "phantom-v{v}-{subjects}x{slices}x{size}-seed{seed}".format(v=VERSION, **params)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock", timeout=600):  # two runs may start at once
        if not (folder / "phantom.json").exists():
            write_phantom(folder, layout="jpg", **params)
    ds = load_dataset(folder, cache_dir=cache_dir, scale=scale)
    ds.name = "phantom"
    return ds
