"""The data a protocol sees: a folder (or the protocol's phantom), downsampled, with the display windows its
[input] names, less excluded subjects."""

from __future__ import annotations

from pathlib import Path

from ichbench.data.dataset import Dataset
from ichbench.data.inputs import EXTRA
from ichbench.data.load import load_dataset
from ichbench.data.phantom.dataset import phantom_dataset
from ichbench.protocol import Protocol


def protocol_dataset(protocol: Protocol, root: Path | None = None, use_cache: bool = True) -> Dataset:
    """`root` (or, when None, the protocol's phantom) as the protocol's [data] table says to load it."""
    spec = protocol.data
    windows = {name: protocol.input.needs(name) for name in EXTRA}
    if root is None:
        dataset = phantom_dataset(protocol.phantom, scale=spec.scale, classes=spec.classes, **windows)
    else:
        dataset = load_dataset(root, use_cache=use_cache, scale=spec.scale, classes=spec.classes, **windows)
    return dataset.without(spec.exclude)
