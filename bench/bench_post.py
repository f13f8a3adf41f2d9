"""Post-processing speed: ichbench against the paper's numpy + OpenCV stack and the memory floor.

Ratios are read off these timings by bench/ratios.py (each names its baseline there).
"""

from __future__ import annotations

import cv2
import numpy as np

from ichbench import post

SHAPE = (640, 640)
SIZE, STRIDE = 160, 80


def paper_stack(patches: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """The seed paper's post-processing: numpy accumulation, cv2.threshold, two cv2.morphologyEx."""
    acc = np.zeros(SHAPE, np.float32)
    count = np.zeros(SHAPE, np.float32)
    for (r, c), p in zip(corners, patches):
        acc[r : r + SIZE, c : c + SIZE] += p
        count[r : r + SIZE, c : c + SIZE] += 1
    _, mask = cv2.threshold(acc / count, 0.5, 1, cv2.THRESH_BINARY)
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((10, 10), np.uint8))
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))


class OneSlice:
    """One 640 x 640 slice from 49 windows of 160 x 160, stride 80."""

    def setup(self) -> None:
        self.corners = post.grid(SHAPE, SIZE, STRIDE)
        rng = np.random.default_rng(0)
        self.patches = rng.random((len(self.corners), SIZE, SIZE), dtype=np.float32)
        post.stitch(self.patches, self.corners, SHAPE)  # warm the coverage cache, as a real run does

    def time_ichbench(self) -> None:
        post.binarize(post.stitch(self.patches, self.corners, SHAPE), 0.5, 10, 5)

    def time_paper_stack(self) -> None:
        paper_stack(self.patches, self.corners)

    def time_floor_read_once(self) -> None:
        self.patches.sum()


class Batch:
    """500 slices stitched and binarized with 1 and 2 threads."""

    params = [1, 2]
    param_names = ["threads"]
    timeout = 300

    def setup(self, threads: int) -> None:
        self.corners = post.grid(SHAPE, SIZE, STRIDE)
        rng = np.random.default_rng(0)
        one = rng.random((1, len(self.corners), SIZE, SIZE), dtype=np.float32)
        self.patches = np.ascontiguousarray(np.broadcast_to(one, (500,) + one.shape[1:]))

    def time_stitch_binarize(self, threads: int) -> None:
        prob = post.stitch_batch(self.patches, self.corners, SHAPE, threads=threads)
        post.binarize(prob, 0.5, 10, 5, threads=threads)
