"""Post-processing: the window grid, stitching window probabilities, thresholding and morphology.

The Python face of the C++ core ``ichbench._post``: it checks dtype, rank and
contiguity (never copying a large array behind the caller's back), then calls it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ichbench import _post
from ichbench.errors import PostError
from ichbench.protocol_sections import Post

DEFAULT = Post()  # the [post] defaults (the paper's closing 10, opening 5, mean stitching), written once there

WEIGHTINGS = ("mean", "gaussian")
FULL_3D = np.ones((3, 3, 3), bool)  # lesions are 26-connected components: touching by a corner is one lesion


def grid(shape: tuple[int, int], size: int = 160, stride: int = 80) -> np.ndarray:
    """Top-left (row, col) corners of the window grid; the last window is clamped to the edge."""
    height, width = (int(v) for v in shape)
    if size <= 0 or stride <= 0:
        raise PostError(f"window size and stride must be positive, got size={size}, stride={stride}")
    if height < size or width < size:
        raise PostError(f"image {height}x{width} is smaller than the {size}x{size} window")
    rows, cols = _positions(height, size, stride), _positions(width, size, stride)
    corners = np.array([(r, c) for r in rows for c in cols], dtype=np.int64)
    return corners


def _positions(length: int, size: int, stride: int) -> list[int]:
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] + size < length:
        starts.append(length - size)
    return starts


def stitch(
    patches: np.ndarray, corners: np.ndarray, shape: tuple[int, int], weighting: str = DEFAULT.weighting
) -> np.ndarray:
    """Stitch (N, h, w) float32 windows at `corners` into one (H, W) float32 map."""
    _require(patches, "patches", 3, np.float32)
    return stitch_batch(patches[None], corners, shape, weighting)[0]


def stitch_batch(
    patches: np.ndarray,
    corners: np.ndarray,
    shape: tuple[int, int],
    weighting: str = DEFAULT.weighting,
    threads: int = 1,
) -> np.ndarray:
    """Stitch (B, N, h, w) float32 windows sharing one corner list into (B, H, W) float32 maps."""
    patches, corners, coverage, weight = _windows(patches, corners, shape, weighting, threads)
    return _post.stitch(patches, corners, *coverage, weight, threads)


def stitch_binarize(
    patches: np.ndarray,
    corners: np.ndarray,
    shape: tuple[int, int],
    threshold: float,
    close: int = DEFAULT.close,
    open: int = DEFAULT.open,
    weighting: str = DEFAULT.weighting,
    threads: int = 1,
) -> np.ndarray:
    """binarize(stitch_batch(...)) in one pass, bit for bit, without the float map: (B, N, h, w) or (N, h, w)
    float32 windows -> (B, H, W) or (H, W) uint8 masks."""
    single = isinstance(patches, np.ndarray) and patches.ndim == 3
    batch, corners, cover, weight = _windows(patches[None] if single else patches, corners, shape, weighting, threads)
    out = _post.stitch_binarize(batch, corners, *cover, weight, _threshold(threshold), *_kernels(close, open), threads)
    return out[0] if single else out


def threshold_counts(
    patches: np.ndarray,
    corners: np.ndarray,
    truth: np.ndarray,
    thresholds: list[float] | np.ndarray,
    close: int = DEFAULT.close,
    open: int = DEFAULT.open,
    weighting: str = DEFAULT.weighting,
    threads: int = 1,
) -> np.ndarray:
    """Per slice and threshold, the TP, FP, FN, TN pixel counts of the post-processed mask against `truth`
    ((B, H, W) uint8, non-zero is blood), all thresholds from one read of the windows: (B, T, 4) int64."""
    _require(truth, "truth", 3, np.uint8)
    batch, corners, coverage, weight = _windows(patches, corners, truth.shape[1:], weighting, threads)
    if truth.shape[0] != batch.shape[0]:
        raise PostError(f"{batch.shape[0]} slices of windows but {truth.shape[0]} truth masks")
    try:
        grid_ = np.ascontiguousarray(thresholds, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError):
        raise PostError(f"thresholds must be a list of numbers, got {thresholds!r}") from None
    return _post.threshold_counts(batch, corners, *coverage, weight, truth, grid_, *_kernels(close, open), threads)


def binarize(
    prob: np.ndarray, threshold: float, close: int = DEFAULT.close, open: int = DEFAULT.open, threads: int = 1
) -> np.ndarray:
    """Threshold (strictly greater), then close and open with square kernels as OpenCV does; 0 skips."""
    if not isinstance(prob, np.ndarray) or prob.ndim not in (2, 3):
        raise PostError(f"prob must be a 2-D (H, W) or 3-D (B, H, W) array, got {_describe(prob)}")
    _require(prob, "prob", prob.ndim, np.float32)
    kernels = _kernels(close, open)
    _threads(threads)
    batch = prob if prob.ndim == 3 else prob[None]
    out = _post.binarize(batch, _threshold(threshold), *kernels, int(threads))
    return out if prob.ndim == 3 else out[0]


def _windows(
    patches: np.ndarray, corners: np.ndarray, shape: tuple[int, int], weighting: str, threads: int
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray], np.ndarray | None]:
    """Checked (B, N, h, w) windows, corners, the cached reciprocal coverage and the window weight."""
    _require(patches, "patches", 4, np.float32)
    corners = _corners(corners, patches.shape[1])
    height, width = _shape(shape)
    _threads(threads)
    h, w = patches.shape[2:]
    weight = _gaussian(h, w) if _weighting(weighting) == "gaussian" else None
    return patches, corners, _reciprocal(corners.tobytes(), h, w, height, width, weighting), weight


def _whole(value: object, low: int, high: int) -> bool:
    """An integer (or integral float) within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    return bool(np.isfinite(value)) and float(value).is_integer() and low <= value <= high


MAX_KERNEL = 4096  # far above any slice size; keeps the C++ side's int arithmetic in range


def _kernels(close: int, open: int) -> tuple[int, int]:
    for name, k in (("close", close), ("open", open)):
        if not _whole(k, 0, MAX_KERNEL):
            raise PostError(f"{name} kernel size must be an integer from 0 to {MAX_KERNEL}, got {k!r}")
    return int(close), int(open)


def _threshold(threshold: float) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)):
        raise PostError(f"threshold must be a number, got {threshold!r}")
    return float(threshold)


def _describe(a: object) -> str:
    if isinstance(a, np.ndarray):
        return f"array of shape {a.shape} and dtype {a.dtype}"
    return type(a).__name__


def _require(a: object, name: str, ndim: int, dtype: type) -> None:
    if not isinstance(a, np.ndarray):
        raise PostError(f"{name} must be a numpy array (use tensor.numpy() for torch), got {_describe(a)}")
    if a.ndim != ndim:
        raise PostError(f"{name} must be {ndim}-D, got {_describe(a)}")
    if a.dtype != dtype:
        raise PostError(f"{name} must be {np.dtype(dtype).name}, got {a.dtype} (convert it explicitly)")
    if not a.flags.c_contiguous:
        raise PostError(f"{name} must be C-contiguous (use np.ascontiguousarray), got strides {a.strides}")


def _corners(corners: np.ndarray, n: int) -> np.ndarray:
    c = np.asarray(corners)
    if c.ndim != 2 or c.shape[1] != 2 or not np.issubdtype(c.dtype, np.integer):
        raise PostError(f"corners must be an (N, 2) integer array, got {_describe(c)}")
    if c.shape[0] != n:
        raise PostError(f"{n} windows but {c.shape[0]} corners")
    return np.ascontiguousarray(c, dtype=np.int64)  # at most a few hundred bytes


def _shape(shape: tuple[int, int]) -> tuple[int, int]:
    if len(shape) != 2 or any(int(v) <= 0 for v in shape):
        raise PostError(f"shape must be two positive integers (H, W), got {shape}")
    return int(shape[0]), int(shape[1])


def _threads(threads: int) -> None:
    if not _whole(threads, 1, 4096):
        raise PostError(f"threads must be an integer >= 1, got {threads!r}")


def _weighting(weighting: str) -> str:
    if weighting not in WEIGHTINGS:
        raise PostError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    return weighting


@lru_cache(maxsize=8)
def _gaussian(h: int, w: int) -> np.ndarray:
    g = _post.gaussian_window(h, w)
    g.flags.writeable = False
    return g


@lru_cache(maxsize=16)
def _reciprocal(
    corner_bytes: bytes, h: int, w: int, height: int, width: int, weighting: str
) -> tuple[np.ndarray, np.ndarray]:
    """1 / coverage as its distinct rows (U, W) and each row's index into them (H,) int32."""
    # Cached: every slice of a data set shares one grid, so coverage is computed once. A grid's mean
    # coverage has a handful of distinct rows: stitching then reads kilobytes of it, not a float map.
    corners = np.frombuffer(corner_bytes, dtype=np.int64).reshape(-1, 2)
    weight = _gaussian(h, w) if weighting == "gaussian" else None
    recip = _post.reciprocal_weights(corners, h, w, height, width, weight)
    rows, index = np.unique(recip, axis=0, return_inverse=True)
    rows, index = np.ascontiguousarray(rows, dtype=np.float32), np.ascontiguousarray(index.reshape(-1), dtype=np.int32)
    rows.flags.writeable = index.flags.writeable = False
    return rows, index


# The lesion stage. Columns of `components`, one row per component in label order.
COMPONENT_FIELDS = ("area", "max_prob", "mean_prob", "first_slice", "last_slice")


def label(mask: np.ndarray, across: bool = True) -> tuple[np.ndarray, int]:
    """Connected components of an (S, H, W) uint8 mask: (int32 labels, count). 26-connected across the
    slices with `across` (as scipy.ndimage.label with FULL_3D), else 8-connected within each slice (as
    OpenCV's pixel-scan labelling, cv2.CCL_SAUF); labels 1..n in the raster order of each first voxel."""
    _require(mask, "mask", 3, np.uint8)
    labels, count = _post.label(mask, bool(across))
    return labels, int(count)


def components(mask: np.ndarray, prob: np.ndarray, across: bool = True) -> np.ndarray:
    """Per component of `mask` (label order), COMPONENT_FIELDS: its voxels, the largest and the mean of the
    (S, H, W) float32 probability map over it, and the first and last slice it spans: (n, 5) float64."""
    _same_shape(mask, prob)
    return _post.components(mask, prob, bool(across))


def _same_shape(mask: np.ndarray, prob: np.ndarray) -> None:
    _require(mask, "mask", 3, np.uint8)
    _require(prob, "prob", 3, np.float32)
    if prob.shape != mask.shape:
        raise PostError(f"prob must have the mask's shape {mask.shape}, got {prob.shape}")


def filter_lesions(
    mask: np.ndarray,
    prob: np.ndarray,
    min_area: int = DEFAULT.lesion_min_area,
    min_max_prob: float = DEFAULT.lesion_min_max_prob,
    min_mean_prob: float = DEFAULT.lesion_min_mean_prob,
    keep_largest: int = DEFAULT.lesion_keep_largest,
    across: bool = DEFAULT.lesion_across,
) -> np.ndarray:
    """The mask with only the components of at least `min_area` voxels whose largest and mean probability
    reach `min_max_prob` and `min_mean_prob`, and of those the `keep_largest` largest (0: all; ties keep the
    earlier label). At the defaults every component stays: the stage is neutral unless asked."""
    _same_shape(mask, prob)
    if not (_whole(min_area, 0, 2**62) and _whole(keep_largest, 0, 2**31 - 1)):
        raise PostError(f"min_area and keep_largest must be whole numbers >= 0, got {min_area!r}, {keep_largest!r}")
    return _post.filter_lesions(
        mask, prob, bool(across), int(min_area), float(min_max_prob), float(min_mean_prob), int(keep_largest)
    )


def brain_mask(
    image: np.ndarray, low: int = DEFAULT.brain_low, high: int = DEFAULT.brain_high, erode: int = DEFAULT.brain_erode
) -> np.ndarray:
    """The brain of each slice of an (S, H, W) uint8 brain-window image: the largest 8-connected region of
    intensities in [low, high], its holes filled, eroded by a (2 erode + 1) square (as scipy.ndimage.label,
    binary_fill_holes and cv2.erode compute them); (S, H, W) uint8 0/1."""
    _require(image, "image", 3, np.uint8)
    if not (_whole(low, 0, 255) and _whole(high, 0, 255) and low <= high and _whole(erode, 0, 2**15)):
        raise PostError(f"need whole 0 <= low <= high <= 255 and erode >= 0, got {low!r}, {high!r}, {erode!r}")
    return _post.brain_mask(image, int(low), int(high), int(erode))
