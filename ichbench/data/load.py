"""Load any supported data folder into a Dataset, through the cache."""

from __future__ import annotations

from pathlib import Path

from ichbench.data import cache
from ichbench.data.dataset import Dataset
from ichbench.data.readers import detect_reader
from ichbench.data.scale import downsample, factor


def load_dataset(
    root: Path, bone: bool = False, use_cache: bool = True, cache_dir: Path | None = None, scale: float = 1.0
) -> Dataset:
    """Detect, read and validate a data folder, downsampled by `scale` (see data.scale); a second load
    of unchanged files comes from the cache."""
    root = Path(root)
    reader = detect_reader(root)
    cache_dir = Path(cache_dir or cache.default_cache_dir())
    signature = cache.tree_signature(root) if use_cache else None
    key = cache.fingerprint(root, cache_dir, signature)
    f = factor(scale)
    entry = cache.entry_dir(cache_dir, reader.name, key, bone, f)
    subjects = cache.load_cached(entry) if use_cache else None
    if subjects is None:
        subjects = [downsample(s, f) for s in reader.read(root, bone=bone)]
        if use_cache:
            cache.store(entry, subjects)
            cache.remember_fingerprint(cache_dir, signature, key)
    name = root.resolve().name
    return Dataset(name=name, layout=reader.name, fingerprint=key, subjects=subjects)
