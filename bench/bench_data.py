"""Data path speed: the window sampler against a plain numpy copy, and data-set loading cold vs cached."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from ichbench.data.load import load_dataset
from ichbench.data.phantom.write import write_phantom
from ichbench.training.windows import WindowSampler, WindowSet

BATCH, SIZE = 32, 160


class Sampler:
    """One batch of 32 x 160 x 160 (image, mask) windows on one CPU thread; windows/s = 32 / time."""

    def setup(self) -> None:
        torch.set_num_threads(1)
        rng = np.random.default_rng(0)
        slices = torch.from_numpy(rng.integers(0, 255, (40, 640, 640), dtype=np.uint8))
        corners = rng.integers(0, 480, (4000, 2))
        index = np.column_stack([rng.integers(0, 40, 4000), corners]).astype(np.int64)
        self.sampler = WindowSampler(WindowSet(slices[:, None], slices, index, SIZE), BATCH, seed=0)
        self.rows = index[:BATCH]
        # The floor: copying the same bytes (two batches of uint8 windows) with numpy.
        self.src = rng.integers(0, 255, (2, BATCH, SIZE, SIZE), dtype=np.uint8)
        self.dst = np.empty_like(self.src)

    def time_sampler_batch(self) -> None:
        self.sampler.cut(self.rows)

    def time_floor_numpy_copy(self) -> None:
        np.copyto(self.dst, self.src)


class Load:
    """Loading a 6-subject x 20-slice phantom in the v1.0.0 JPG layout: first (cold) vs cached."""

    timeout = 300

    def setup_cache(self) -> str:
        root = Path(tempfile.mkdtemp(prefix="ichbench-bench-"))
        write_phantom(root / "data", subjects=6, slices=20, size=640, seed=0, layout="jpg")
        os.environ["ICHBENCH_CACHE"] = str(root / "cache")
        load_dataset(root / "data")  # fill the cache for the cached case
        return str(root)

    def time_cold(self, root: str) -> None:
        load_dataset(Path(root) / "data", use_cache=False)

    def time_cached(self, root: str) -> None:
        os.environ["ICHBENCH_CACHE"] = str(Path(root) / "cache")
        load_dataset(Path(root) / "data")
