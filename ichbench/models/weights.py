"""Loading checkpoints and weights only after checking them against the SHA-256 recorded when written."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import torch

from ichbench.atomic import atomic_save_checked, verify_checked
from ichbench.errors import DamagedFile


def load_checked(path: Path, device: torch.device | str = "cpu") -> dict:
    """torch.load (weights only) a checkpoint or weights file after checking its recorded SHA-256.

    A file without a record (an older ichbench wrote it) is loaded with a warning; one whose bytes
    changed, or that cannot be read, raises DamagedFile naming it."""
    if not verify_checked(path):
        warnings.warn(f"{path}: no recorded SHA-256 (written by an older ichbench); loaded unverified", stacklevel=2)
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as exc:
        raise DamagedFile(f"{path}: cannot be read: {exc}") from None


def save_checked(path: Path, obj: object) -> None:
    """torch.save atomically with its SHA-256 recorded beside it (write errors are Python's, hence clear)."""

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file object, so a failed write is an OSError first
            try:
                torch.save(obj, fh)
            except RuntimeError as exc:  # torch's zip writer then fails closing: report the write's own error
                if isinstance(exc.__context__, OSError):
                    raise exc.__context__ from None
                raise

    atomic_save_checked(path, save)
