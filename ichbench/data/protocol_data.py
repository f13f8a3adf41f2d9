"""The data a protocol sees: a folder (or the protocol's phantom), downsampled and less excluded subjects."""

from __future__ import annotations

from pathlib import Path

from ichbench.data.dataset import Dataset
from ichbench.data.load import load_dataset
from ichbench.data.phantom_data import phantom_dataset
from ichbench.protocol import Protocol


def protocol_dataset(protocol: Protocol, root: Path | None = None, use_cache: bool = True) -> Dataset:
    """`root` (or, when None, the protocol's phantom) as the protocol's [data] table says to load it."""
    spec = protocol.data
    if root is None:
        dataset = phantom_dataset(protocol.phantom, scale=spec.scale)
    else:
        dataset = load_dataset(root, use_cache=use_cache, scale=spec.scale)
    return dataset.without(spec.exclude)
