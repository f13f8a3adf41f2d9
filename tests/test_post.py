"""ichbench.post against independent references: OpenCV for morphology, numpy for stitching."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ichbench import post


def reference_stitch(patches: np.ndarray, corners: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    acc = np.zeros(shape, np.float64)
    count = np.zeros(shape, np.float64)
    h, w = patches.shape[1:]
    for (r, c), p in zip(corners, patches):
        acc[r : r + h, c : c + w] += p
        count[r : r + h, c : c + w] += 1
    return acc / count


def random_blobs(rng: np.random.Generator, h: int, w: int, density: float) -> np.ndarray:
    """Blobby probability maps: smoothed noise gives objects of many sizes, not salt and pepper."""
    noise = rng.random((h, w)).astype(np.float32)
    k = int(rng.integers(1, 8))
    smooth = cv2.blur(noise, (k, k))
    return (smooth * density * 2).astype(np.float32)


def test_binarize_bit_exact_with_opencv_on_random_masks(opencv_binarize) -> None:
    rng = np.random.default_rng(1234)
    for case in range(240):
        h, w = (int(v) for v in rng.integers(1, 260, 2))
        prob = random_blobs(rng, h, w, float(rng.uniform(0.1, 1.0)))
        threshold = float(rng.uniform(0.2, 0.8))
        close, open_ = (10, 5) if case % 3 == 0 else (int(v) for v in rng.integers(0, 16, 2))
        got = post.binarize(prob, threshold, close, open_)
        want = opencv_binarize(prob, threshold, close, open_)
        assert got.dtype == np.uint8
        assert np.array_equal(got, want), f"case {case}: {h}x{w}, t={threshold}, close={close}, open={open_}"


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 9, 10, 11, 31, 64, 65, 70])
def test_binarize_odd_and_even_kernels(k: int, opencv_binarize) -> None:
    rng = np.random.default_rng(k)
    prob = rng.random((97, 203)).astype(np.float32)
    for close, open_ in ((k, 0), (0, k), (k, k)):
        assert np.array_equal(post.binarize(prob, 0.7, close, open_), opencv_binarize(prob, 0.7, close, open_))


def _edge_masks() -> dict[str, np.ndarray]:
    cases: dict[str, np.ndarray] = {}
    cases["empty"] = np.zeros((40, 50), np.float32)
    cases["full"] = np.ones((40, 50), np.float32)
    single = np.zeros((40, 50), np.float32)
    single[17, 23] = 1
    cases["single pixel"] = single
    border = np.zeros((64, 128), np.float32)
    border[0, 10:30] = border[-1, 40:90] = border[5:20, 0] = border[30:60, -1] = 1
    border[:12, :12] = border[-15:, -15:] = 1
    cases["objects touching every border"] = border
    cases["1 x N"] = (np.arange(300) % 7 < 4).astype(np.float32)[None, :]
    cases["N x 1"] = (np.arange(300) % 11 < 8).astype(np.float32)[:, None]
    cases["1 x 1"] = np.ones((1, 1), np.float32)
    cases["non-square with holes"] = np.pad(np.ones((30, 70), np.float32), 5)
    cases["width 64"] = (np.random.default_rng(3).random((20, 64)) > 0.4).astype(np.float32)
    cases["width 65"] = (np.random.default_rng(4).random((20, 65)) > 0.4).astype(np.float32)
    return cases


@pytest.mark.parametrize("name", list(_edge_masks()))
@pytest.mark.parametrize("kernels", [(10, 5), (3, 2), (2, 3), (0, 0), (1, 1)])
def test_binarize_edge_cases(name: str, kernels: tuple[int, int], opencv_binarize) -> None:
    prob = _edge_masks()[name]
    assert np.array_equal(post.binarize(prob, 0.5, *kernels), opencv_binarize(prob, 0.5, *kernels))


def test_binarize_threshold_is_strictly_greater_and_nan_is_background() -> None:
    prob = np.array([[0.5, 0.50001, 0.9, np.nan]], np.float32)
    assert post.binarize(prob, 0.5, 0, 0).tolist() == [[0, 1, 1, 0]]


def test_binarize_batch_and_threads_match_single_slices() -> None:
    rng = np.random.default_rng(7)
    batch = np.stack([random_blobs(rng, 90, 70, 0.6) for _ in range(9)])
    single = np.stack([post.binarize(p, 0.5) for p in batch])
    for threads in (1, 2, 4, 16):
        assert np.array_equal(post.binarize(batch, 0.5, threads=threads), single)


def test_grid_matches_the_documented_layouts() -> None:
    corners = post.grid((640, 640), 160, 80)
    assert corners.shape == (49, 2) and corners.dtype == np.int64
    assert sorted(set(corners[:, 0].tolist())) == [0, 80, 160, 240, 320, 400, 480]
    assert sorted(set(post.grid((512, 512))[:, 1].tolist())) == [0, 80, 160, 240, 320, 352]
    assert post.grid((160, 200)).tolist() == [[0, 0], [0, 40]]
    with pytest.raises(ValueError, match="smaller than"):
        post.grid((100, 640))


@pytest.mark.parametrize("shape", [(640, 640), (512, 512), (200, 330)])
def test_stitch_mean_matches_numpy(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    corners = post.grid(shape)
    patches = rng.random((len(corners), 160, 160)).astype(np.float32)
    got = post.stitch(patches, corners, shape)
    assert got.dtype == np.float32 and got.shape == shape
    np.testing.assert_allclose(got, reference_stitch(patches, corners, shape), rtol=1e-6, atol=1e-6)


def test_stitch_gaussian_weights_windows_by_a_centered_gaussian() -> None:
    rng = np.random.default_rng(1)
    shape, size = (96, 96), 32
    corners = post.grid(shape, size, 16)
    patches = rng.random((len(corners), size, size)).astype(np.float32)
    y = np.arange(size) - (size - 1) / 2
    g = np.exp(-0.5 * ((y[:, None] / (size / 8)) ** 2 + (y[None, :] / (size / 8)) ** 2))
    acc, wsum = np.zeros(shape), np.zeros(shape)
    for (r, c), p in zip(corners, patches):
        acc[r : r + size, c : c + size] += p * g
        wsum[r : r + size, c : c + size] += g
    got = post.stitch(patches, corners, shape, weighting="gaussian")
    np.testing.assert_allclose(got, acc / wsum, rtol=1e-4, atol=1e-6)
    constant = np.full_like(patches, 0.25)
    np.testing.assert_allclose(post.stitch(constant, corners, shape, "gaussian"), 0.25, rtol=1e-5)


def test_stitch_batch_matches_single_and_threads() -> None:
    rng = np.random.default_rng(2)
    corners = post.grid((320, 320))
    batch = rng.random((5, len(corners), 160, 160)).astype(np.float32)
    single = np.stack([post.stitch(p, corners, (320, 320)) for p in batch])
    for threads in (1, 2, 3):
        np.testing.assert_array_equal(post.stitch_batch(batch, corners, (320, 320), threads=threads), single)


def test_uncovered_pixels_are_an_error() -> None:
    patches = np.zeros((1, 10, 10), np.float32)
    with pytest.raises(ValueError, match=r"pixel \(0, 10\) is covered by no window"):
        post.stitch(patches, np.array([[0, 0]]), (10, 20))


def test_torch_tensor_through_numpy() -> None:
    torch = pytest.importorskip("torch")
    corners = post.grid((160, 240))
    patches = torch.rand(len(corners), 160, 160)
    prob = post.stitch(patches.numpy(), corners, (160, 240))
    assert post.binarize(prob, 0.5).shape == (160, 240)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: post.stitch(np.zeros((4, 8, 8), np.float64), np.zeros((4, 2), int), (16, 16)), "float32"),
        (lambda: post.stitch(np.zeros((8, 8), np.float32), np.zeros((1, 2), int), (8, 8)), "3-D"),
        (lambda: post.stitch(np.zeros((4, 8, 16), np.float32)[:, :, ::2], np.zeros((4, 2), int), (8, 8)), "contig"),
        (lambda: post.stitch(np.zeros((4, 8, 8), np.float32), np.zeros((3, 2), int), (16, 16)), "4 windows but 3"),
        (lambda: post.stitch(np.zeros((1, 8, 8), np.float32), np.array([[0, 9]]), (16, 16)), "outside"),
        (lambda: post.stitch(np.zeros((1, 8, 8), np.float32), np.array([[-1, 0]]), (16, 16)), "outside"),
        (lambda: post.stitch(np.zeros((1, 8, 8), np.float32), np.zeros((1, 2), float), (8, 8)), "integer"),
        (lambda: post.stitch(np.zeros((1, 8, 8), np.float32), np.zeros((1, 2), int), (8, 8), "max"), "weighting"),
        (lambda: post.binarize(np.zeros((8, 8), np.float64), 0.5), "float32"),
        (lambda: post.binarize(np.zeros((8,), np.float32), 0.5), "2-D"),
        (lambda: post.binarize(np.zeros((8, 8), np.float32), 0.5, close=-1), "close kernel"),
        (lambda: post.binarize(np.zeros((8, 8), np.float32), 0.5, open=-3), "open kernel"),
        (lambda: post.binarize(np.zeros((8, 8), np.float32).T[::2], 0.5), "contig"),
        (lambda: post.binarize(np.zeros((2, 8, 8), np.float32), 0.5, threads=0), "threads"),
    ],
)
def test_bad_input_is_a_clear_value_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
