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
    """500 slices stitched and binarized with 1 and 2 threads: through the probability maps (`stitch_batch`
    then `binarize`), and fused (`stitch_binarize`, the path prediction takes), which reads less memory."""

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

    def time_fused(self, threads: int) -> None:
        post.stitch_binarize(self.patches, self.corners, SHAPE, 0.5, 10, 5, threads=threads)


GRID9 = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def lesion_windows(corners: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Windows cut from a slice shaped like a model's output: low background, three smooth lesions."""
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    prob = rng.random(SHAPE, dtype=np.float32) * 0.05
    for cy, cx, r in ((200, 180, 25), (420, 400, 40), (300, 520, 12)):
        prob += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)).astype(np.float32)
    prob = np.clip(prob, 0, 1)
    return np.stack([prob[r : r + SIZE, c : c + SIZE] for r, c in corners]).astype(np.float32)


class Fused:
    """Windows to mask in one pass (stitch + threshold + close 10 + open 5), and the 9-threshold curve.

    `random`: uniform noise windows, the worst case (the mask is dense everywhere); `lesions`: windows of a
    slice shaped like a model's output (smooth lesions on a low background), the case validation sees.
    """

    params = ["random", "lesions"]
    param_names = ["windows"]

    def setup(self, kind: str) -> None:
        self.corners = post.grid(SHAPE, SIZE, STRIDE)
        rng = np.random.default_rng(0)
        if kind == "random":
            self.patches = rng.random((len(self.corners), SIZE, SIZE), dtype=np.float32)
        else:
            self.patches = lesion_windows(self.corners, rng)
        self.truth = (post.stitch(self.patches, self.corners, SHAPE) > 0.6).astype(np.uint8)[None]
        self.batch = self.patches[None]
        post.stitch_binarize(self.patches, self.corners, SHAPE, 0.5)  # warm the coverage cache

    def time_fused(self, kind: str) -> None:
        post.stitch_binarize(self.patches, self.corners, SHAPE, 0.5, 10, 5)

    def time_unfused(self, kind: str) -> None:
        post.binarize(post.stitch(self.patches, self.corners, SHAPE), 0.5, 10, 5)

    def time_paper_stack(self, kind: str) -> None:
        paper_stack(self.patches, self.corners)

    def time_floor_read_once(self, kind: str) -> None:
        self.patches.sum()

    def time_curve_1(self, kind: str) -> None:
        post.threshold_counts(self.batch, self.corners, self.truth, [0.5], 10, 5)

    def time_curve_9(self, kind: str) -> None:
        post.threshold_counts(self.batch, self.corners, self.truth, GRID9, 10, 5)


class MonaiAnchor:
    """MONAI's sliding-window aggregation (SlidingWindowInferer, identity predictor) against ichbench's
    stitching of the same 49 windows. Needs the bench extra (monai); skipped without it."""

    def setup(self) -> None:
        try:
            import torch
            from monai.inferers import SlidingWindowInferer
        except ImportError:
            from asv_runner.benchmarks.mark import SkipNotImplemented  # asv's way to skip a benchmark

            raise SkipNotImplemented("monai is not installed (pip install '.[bench]')") from None
        torch.set_num_threads(1)
        self.corners = post.grid(SHAPE, SIZE, STRIDE)
        rng = np.random.default_rng(0)
        self.patches = rng.random((len(self.corners), SIZE, SIZE), dtype=np.float32)
        self.image = torch.from_numpy(post.stitch(self.patches, self.corners, SHAPE))[None, None]
        self.inferer = SlidingWindowInferer(
            roi_size=(SIZE, SIZE), sw_batch_size=len(self.corners), overlap=0.5, mode="constant"
        )
        self.torch = torch

    def time_monai(self) -> None:
        with self.torch.inference_mode():
            self.inferer(self.image, lambda x: x)

    def time_ichbench_stitch(self) -> None:
        post.stitch(self.patches, self.corners, SHAPE)
