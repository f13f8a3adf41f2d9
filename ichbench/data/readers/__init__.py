"""Data readers as plugins: the `ichbench.readers` entry-point group (built-ins register there too).

A reader is a `Reader`: a name (the layout, recorded with every run), a line describing the folder it
expects, `can_open(root) -> bool`, and `read(root, bone=False) -> list[Subject]` (a layout in Hounsfield
units may also take `subdural=False`: only such readers can give that window). Detection asks
the readers in order of `priority` (then name) and takes the first that can open the folder; when
none can, the error lists what each expects. A plugin that fails to load, or is not a Reader, is
reported and skipped.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ichbench.data.dataset import Subject
from ichbench.errors import DataError
from ichbench.plugins import discover

GROUP = "ichbench.readers"


@dataclass(frozen=True)
class Reader:
    """One data-set layout ichbench can read."""

    name: str
    expects: str  # what the folder holds, e.g. "manifest.csv (own folder)"
    can_open: Callable[[Path], bool]
    read: Callable[..., list[Subject]]  # read(root, bone=False)
    priority: int = 50  # lower is asked first; a catch-all layout should come late


def available_readers() -> list[Reader]:
    """Every usable reader, in the order detection asks them."""
    readers = []
    for plugin in discover(GROUP).plugins.values():
        if isinstance(plugin.obj, Reader):
            readers.append(plugin.obj)
        else:
            warnings.warn(
                f"reader plugin {plugin.name!r} ({plugin.target}) is not an ichbench Reader; skipped", stacklevel=2
            )
    return sorted(readers, key=lambda r: (r.priority, r.name))


def detect_reader(root: Path) -> Reader:
    """The first reader that can open a data folder; a clear error naming every layout tried otherwise."""
    root = Path(root)
    if not root.exists():
        raise DataError(f"{root}: no such data folder")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    readers = available_readers()
    for reader in readers:
        if reader.can_open(root):
            return reader
    if not any(root.iterdir()):
        raise DataError(f"{root}: the folder is empty")
    tried = "; ".join(f"{r.expects} ({r.name})" for r in readers)
    raise DataError(f"{root}: cannot tell the layout: expected {tried}")
