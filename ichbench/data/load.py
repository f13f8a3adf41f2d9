"""Load any supported data folder into a Dataset, through the cache."""

from __future__ import annotations

from pathlib import Path

from ichbench.data import cache
from ichbench.data.ctich_jpg import read_ctich_jpg
from ichbench.data.ctich_nifti import read_ctich_nifti
from ichbench.data.dataset import Dataset, Subject
from ichbench.data.detect import detect_layout
from ichbench.data.folder import read_folder

READERS = {"ctich-1.0.0": read_ctich_jpg, "ctich-1.3.1": read_ctich_nifti, "folder": read_folder}


def read_subjects(root: Path, layout: str, bone: bool) -> list[Subject]:
    """Run the reader of a layout (no cache)."""
    if layout == "folder":
        if bone:
            raise ValueError("the folder layout has no bone window")
        return read_folder(root)
    return READERS[layout](root, bone=bone)


def load_dataset(root: Path, bone: bool = False, use_cache: bool = True, cache_dir: Path | None = None) -> Dataset:
    """Detect, read and validate a data folder; a second load of unchanged files comes from the cache."""
    root = Path(root)
    layout = detect_layout(root)
    cache_dir = Path(cache_dir or cache.default_cache_dir())
    signature = cache.tree_signature(root) if use_cache else None
    key = cache.fingerprint(root, cache_dir, signature)
    entry = cache.entry_dir(cache_dir, layout, key, bone)
    subjects = cache.load_cached(entry) if use_cache else None
    if subjects is None:
        subjects = read_subjects(root, layout, bone)
        if use_cache:
            cache.store(entry, subjects)
            cache.remember_fingerprint(cache_dir, signature, key)
    name = root.resolve().name
    return Dataset(name=name, layout=layout, fingerprint=key, subjects=subjects)
