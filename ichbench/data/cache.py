"""A content-hash keyed cache of loaded data sets: .npy files read back with memory mapping."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ichbench.atomic import atomic_write_text, file_blocks, tree_sha256
from ichbench.data.dataset import Subject

FORMAT = 2  # bump when what the readers produce changes
ARRAYS = ("image", "mask", "labels", "slice_numbers", "bone", "subdural", "native_mask")


def default_cache_dir() -> Path:
    """$ICHBENCH_CACHE, else ~/.cache/ichbench."""
    env = os.environ.get("ICHBENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "ichbench"


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not _hidden(p, root))


def tree_signature(root: Path) -> str:
    """SHA-256 of every file's relative path, size and modification time (cheap: no contents read)."""
    root = Path(root)
    digest = hashlib.sha256(str(root.resolve()).encode())
    for path in _files(root):
        st = path.stat()
        digest.update(f"{path.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def fingerprint(root: Path, cache_dir: Path | None = None, signature: str | None = None) -> str:
    """SHA-256 over every file's relative path and content below root (hidden files excluded).

    With a cache folder and the tree's signature, a hash remembered under that signature (as git's
    index remembers stat data) is returned without reading the files again.
    """
    root = Path(root)
    if cache_dir is not None and signature is not None:
        known = _read_memo(Path(cache_dir) / "fingerprints.json").get(signature)
        if known:
            return known
    return tree_sha256(root, _files(root), lambda name, path: (name.encode() + b"\0", *file_blocks(path), b"\0"))


def remember_fingerprint(cache_dir: Path, signature: str, value: str) -> None:
    """Record a tree's content hash under its signature (after it was read without error)."""
    memo_path = Path(cache_dir) / "fingerprints.json"
    memo = _read_memo(memo_path)
    memo[signature] = value
    atomic_write_text(memo_path, json.dumps(memo))


def _read_memo(path: Path | None) -> dict[str, str]:
    if path is None or not path.is_file():
        return {}
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def entry_dir(
    cache_dir: Path,
    layout: str,
    key: str,
    extra: tuple[str, ...] = (),
    downsample: int = 1,
    classes: tuple[str, ...] = (),
) -> Path:
    """Where one data set's arrays live in the cache (one entry per set of extra windows, downsampling and
    counted classes)."""
    tail = "".join(f"-{name}" for name in extra) + (f"-down{downsample}" if downsample > 1 else "")
    if classes:  # names may hold any character: a short hash of them
        tail += "-classes" + hashlib.sha256(json.dumps(sorted(classes)).encode()).hexdigest()[:8]
    return Path(cache_dir) / f"{layout}-{key[:24]}-v{FORMAT}{tail}"


def load_cached(entry: Path) -> list[Subject] | None:
    """The cached subjects, memory-mapped, or None when absent or damaged."""
    meta_path = entry / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        subjects = []
        for item in meta["subjects"]:
            arrays = {
                name: np.load(entry / f"{item['file']}.{name}.npy", mmap_mode="r")
                for name in ARRAYS
                if (entry / f"{item['file']}.{name}.npy").exists()
            }
            spacing = tuple(item["spacing"]) if item["spacing"] else None
            subjects.append(Subject(id=item["id"], spacing=spacing, **arrays))
        return subjects
    except (OSError, ValueError, KeyError):
        return None  # a damaged entry is rebuilt rather than trusted


def store(entry: Path, subjects: list[Subject]) -> None:
    """Write the subjects into a temporary folder, then rename it into place."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{entry.name}."))
    try:
        items = []
        for i, s in enumerate(subjects):
            name = f"{i:04d}"
            for array_name in ARRAYS:
                value = getattr(s, array_name)
                if value is not None:
                    np.save(tmp / f"{name}.{array_name}.npy", np.ascontiguousarray(value))
            items.append({"id": s.id, "file": name, "spacing": list(s.spacing) if s.spacing else None})
        (tmp / "meta.json").write_text(json.dumps({"format": FORMAT, "subjects": items}))
        if entry.exists():
            shutil.rmtree(entry)
        os.replace(tmp, entry)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
