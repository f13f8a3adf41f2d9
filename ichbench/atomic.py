"""Atomic file writes: a temporary file in the same folder, then a rename, so nothing is half-written."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ichbench.errors import DamagedFile, WriteError


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


_UMASK = _umask()


@contextmanager
def atomic_path(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path to write to; on success it replaces `path`, on error it is removed.

    `suffix` lets writers that choose a format by file name (nibabel) see the right one."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
        os.close(fd)
    except OSError as exc:
        raise WriteError.failed(path, exc) from None
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except OSError as exc:  # disk full, a file-size limit, permissions: the old file stays as it was
        Path(tmp).unlink(missing_ok=True)
        raise WriteError.failed(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write bytes to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 text to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save(path: Path, save: Callable[[Path], None], suffix: str = ".tmp") -> None:
    """Call save(tmp_path) and move the result into place atomically."""
    with atomic_path(path, suffix) as tmp:
        save(tmp)


def sidecar(path: Path) -> Path:
    """Where a checked file's SHA-256 record lives: `<name>.sha256` beside it."""
    return path.with_name(path.name + ".sha256")


def file_blocks(path: Path) -> Iterator[bytes]:
    """A file's bytes in 1 MiB blocks."""
    with open(path, "rb") as fh:
        yield from iter(lambda: fh.read(1 << 20), b"")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    for block in file_blocks(path):
        h.update(block)
    return h.hexdigest()


def tree_sha256(root: Path, files: Iterable[Path], framed: Callable[[str, Path], Iterable[bytes]]) -> str:
    """SHA-256 over a folder's files in the given order, each hashed as `framed(relative name, path)` yields
    it: the one folder hasher, of data sets (data.cache.fingerprint) and of evidence folders
    (leaderboard.evidence.digest), each with the framing its recorded hashes were made with."""
    h = hashlib.sha256()
    for path in files:
        for piece in framed(Path(path).relative_to(root).as_posix(), Path(path)):
            h.update(piece)
    return h.hexdigest()


def _recorded(path: Path) -> list[str]:
    record = sidecar(path)
    return [line.split()[0] for line in record.read_text().splitlines() if line.strip()] if record.exists() else []


def recorded_sha256(path: Path) -> str:
    """The SHA-256 recorded beside a file when it was written ('' when none was)."""
    return next(iter(_recorded(Path(path))), "")


def atomic_save_checked(path: Path, save: Callable[[Path], None]) -> None:
    """atomic_save, recording the content's SHA-256 beside it in `<name>.sha256` (sha256sum's format).

    While the file is replaced the record lists the new hash and the one in place, so whenever the
    process dies the file on disk matches its record."""
    path = Path(path)
    with atomic_path(path) as tmp:
        save(tmp)
        new = file_sha256(tmp)
        atomic_write_text(sidecar(path), "".join(f"{h}  {path.name}\n" for h in [new, *_recorded(path)[:1]]))
    atomic_write_text(sidecar(path), f"{new}  {path.name}\n")


def verify_checked(path: Path) -> bool:
    """Check a file against its recorded SHA-256: True if it matches, False when nothing was recorded
    (written by an older ichbench); raises DamagedFile, naming the file, when it differs."""
    path = Path(path)
    recorded = _recorded(path)
    if not recorded:
        return False
    actual = file_sha256(path)
    if actual not in recorded:
        raise DamagedFile(
            f"{path}: damaged: its SHA-256 {actual[:16]}... is not the {recorded[0][:16]}... recorded in "
            f"{sidecar(path).name} when it was written"
        )
    return True


def remove_checked(path: Path) -> None:
    """Delete a file and its SHA-256 record, whichever exist."""
    for p in (Path(path), sidecar(Path(path))):
        p.unlink(missing_ok=True)


def set_aside(path: Path, tag: str = "damaged") -> None:
    """Rename a file and its record to `<name>.<tag>` (kept for inspection, never loaded again)."""
    for p in (Path(path), sidecar(Path(path))):
        if p.exists():
            os.replace(p, p.with_name(f"{p.name}.{tag}"))
