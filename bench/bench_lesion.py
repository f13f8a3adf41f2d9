"""The lesion stage's speed: ichbench's components against OpenCV and scipy, and the stage against the read floor.

Ratios are read off these timings by bench/ratios.py (each names its baseline there).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from ichbench import post

SLICES, SHAPE = 26, (640, 640)  # one CT-ICH scan at native size


def scan() -> tuple[np.ndarray, np.ndarray]:
    """A scan's probability map of smooth blobs (Gaussian-smoothed noise) and its mask of the top 3 percent:
    about 1,600 components of all sizes spanning a few slices, like a model's false positives, on 3 percent
    of the voxels (more than the scans a trained model marks)."""
    rng = np.random.default_rng(0)
    noise = rng.random((SLICES, *SHAPE), dtype=np.float32)
    prob = ndimage.gaussian_filter(noise, sigma=(0.8, 6, 6)).astype(np.float32)
    prob = (prob - prob.min()) / (prob.max() - prob.min())
    return (prob > np.quantile(prob, 0.97)).astype(np.uint8), np.ascontiguousarray(prob, np.float32)


def scipy_stage(mask: np.ndarray, prob: np.ndarray, min_area: int, min_max_prob: float) -> np.ndarray:
    """The same filter with scipy: label, per-component sizes and maxima, then the kept labels' mask."""
    labels, n = ndimage.label(mask, structure=post.FULL_3D)
    index = np.arange(1, n + 1)
    area = ndimage.sum_labels(mask, labels, index)
    top = ndimage.maximum(prob, labels, index)
    keep = np.concatenate([[False], (area >= min_area) & (top >= min_max_prob)])
    return keep[labels].astype(np.uint8)


class Label:
    """Connected components of one scan: 26-connected (scipy's) and 8-connected per slice (OpenCV's)."""

    def setup(self) -> None:
        self.mask, self.prob = scan()

    def time_ichbench_3d(self) -> None:
        post.label(self.mask, across=True)

    def time_scipy_3d(self) -> None:
        ndimage.label(self.mask, structure=post.FULL_3D)

    def time_ichbench_2d(self) -> None:
        post.label(self.mask, across=False)

    def time_opencv_2d(self) -> None:
        for plane in self.mask:
            cv2.connectedComponentsWithStats(plane, connectivity=8, ltype=cv2.CV_32S)

    def time_floor_read_once(self) -> None:
        self.mask.sum()


class Stage:
    """The whole filter on one scan (components, their size and confidence, the kept mask): ichbench against
    scipy, and against reading the probability map once."""

    def setup(self) -> None:
        self.mask, self.prob = scan()

    def time_ichbench(self) -> None:
        post.filter_lesions(self.mask, self.prob, min_area=400, min_max_prob=0.72)

    def time_scipy(self) -> None:
        scipy_stage(self.mask, self.prob, 400, 0.72)

    def time_floor_read_once(self) -> None:
        self.prob.sum()
