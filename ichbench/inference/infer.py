"""Prediction: every window of every slice -> probabilities -> ichbench.post -> masks."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view

from ichbench import post
from ichbench.data.scale import downsample_image
from ichbench.models.contract import prefers_channels_last
from ichbench.protocol import Protocol


def bf16_is_fast(device: torch.device) -> bool:
    """Whether the device computes bf16 faster than fp32: CUDA, or a CPU with AVX-512 BF16 or AMX
    (detected at run time; elsewhere a CPU's bf16 is emulated and slower than fp32)."""
    if device.type == "cuda":
        return True
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch.cpu's, private but long-standing
    return any(bool(getattr(torch.cpu, probe, lambda: False)()) for probe in probes)


def precision_for(setting: str, device: torch.device) -> str:
    """The precision a protocol's `[training] precision` means on this device: "bf16" or "fp32"."""
    if setting == "auto":
        return "bf16" if bf16_is_fast(device) else "fp32"
    if setting == "cuda-bf16":
        return "bf16" if device.type == "cuda" else "fp32"
    return setting


def autocast(device: torch.device, precision: str):
    """bf16 autocast for precision "bf16" (on CUDA or the CPU); nothing for "fp32"."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def to_input(windows: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (B, C, h, w) -> float in [0, 1] on the device. The layout is the model's: a convolution whose
    weights are channels-last computes channels-last whatever its input's layout."""
    return windows.to(device, non_blocking=True).float().div_(255.0)


def prepare_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Move a model to the device, in channels-last layout unless the model prefers the default one
    (`models.contract.prefers_channels_last`: measured per model, see docs/performance.md)."""
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if prefers_channels_last(model) else model


def window_probs(
    model: torch.nn.Module,
    image: np.ndarray,
    protocol: Protocol,
    device: torch.device,
    precision: str = "fp32",
    batch: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """Sigmoid probabilities of every grid window of an (S, C, H, W) uint8 input (or an (S, H, W) brain
    window): (S, N, h, w), and the corners; computed in `precision` (the job's, resolved once by it)."""
    image = as_input(image)
    size, stride = protocol.windows.size, protocol.windows.stride
    corners = post.grid(image.shape[-2:], size, stride)
    view = sliding_window_view(image, (size, size), axis=(2, 3))
    # (S, C, N, h, w) -> (S, N, C, h, w): the windows of a slice are consecutive, each with its C channels.
    windows = view[:, :, corners[:, 0], corners[:, 1]].transpose(0, 2, 1, 3, 4).reshape(-1, image.shape[1], size, size)
    out = np.empty((len(windows), size, size), np.float32)
    model.eval()
    with torch.inference_mode(), autocast(device, precision):
        for start in range(0, len(windows), batch):
            chunk = to_input(torch.from_numpy(np.ascontiguousarray(windows[start : start + batch])), device)
            probs = torch.sigmoid(model(chunk).float())
            if protocol.post.flip:  # the mirrored window's prediction, mirrored back (probabilities averaged)
                probs = (probs + torch.sigmoid(model(chunk.flip(-1)).float()).flip(-1)) / 2
            out[start : start + len(chunk)] = probs[:, 0].cpu().numpy()
    return out.reshape(len(image), len(corners), size, size), corners


def as_input(image: np.ndarray) -> np.ndarray:
    """An (S, C, H, W) model input as it is, an (S, H, W) stack as one channel."""
    image = np.asarray(image)
    return image[:, None] if image.ndim == 3 else image


def kernels(protocol: Protocol, morphology: bool = True) -> tuple[int, int]:
    """The protocol's (close, open) kernel sizes, or (0, 0) for a model that takes no morphology."""
    return (protocol.post.close, protocol.post.open) if morphology else (0, 0)


def predict_masks(
    model: torch.nn.Module,
    image: np.ndarray,
    protocol: Protocol,
    device: torch.device,
    threshold: float,
    morphology: bool = True,
    shape: tuple[int, int] | None = None,
    precision: str = "fp32",
) -> np.ndarray:
    """(S, H, W) uint8 masks of one subject's slices (input as in window_probs): every window predicted,
    stitched, thresholded, closed and opened, then the protocol's lesion stage (brain mask, components). At
    the input's size in one pass (ichbench.post.stitch_binarize) when the stage is off; at another `shape`
    (a native resolution) the stitched map is upsampled there first (see `upsample`). The lesion stage
    reads the stitched map beside the mask: the components' confidence."""
    probs, corners = window_probs(model, image, protocol, device, precision)
    size = tuple(np.shape(image)[-2:])
    close, open_ = kernels(protocol, morphology)
    if (shape is None or tuple(shape) == size) and not protocol.post.lesions:
        weighting = protocol.post.weighting
        return post.stitch_binarize(probs, corners, size, threshold, close, open_, weighting, threads=_threads())
    maps = stitched_maps(probs, corners, size, shape, protocol)
    mask = within_brain(post.binarize(maps, threshold, close, open_, _threads()), image, protocol)
    return lesion_stage(mask, maps, protocol) if protocol.post.lesions else mask


def within_brain(mask: np.ndarray, image: np.ndarray, protocol: Protocol) -> np.ndarray:
    """The mask limited to the brain (`[post] brain_mask`; else as it is). The brain is found on the input's
    own brain-window channel (channel 0), upsampled to the mask's size as the probabilities are, so that
    `brain_erode` counts the mask's (native) pixels."""
    p = protocol.post
    if not p.brain_mask:
        return mask
    brain = as_input(image)[:, 0]
    if brain.shape[1:] != mask.shape[1:]:
        brain = np.clip(np.rint(upsample(brain.astype(np.float32), mask.shape[1:])), 0, 255).astype(np.uint8)
    return mask & post.brain_mask(np.ascontiguousarray(brain), p.brain_low, p.brain_high, p.brain_erode)


def stitched_maps(
    probs: np.ndarray, corners: np.ndarray, size: tuple[int, int], shape: tuple[int, int] | None, protocol: Protocol
) -> np.ndarray:
    """Window probabilities stitched at the input's `size`, upsampled to `shape` where it differs (the
    native size): the (S, H, W) float32 C-contiguous maps the masks and the lesion stage are made from."""
    if shape is None or tuple(shape) == tuple(size):
        return post.stitch_batch(probs, corners, size, protocol.post.weighting, threads=_threads())
    return np.ascontiguousarray(native_maps(probs, corners, size, shape, protocol), np.float32)


def lesion_stage(mask: np.ndarray, maps: np.ndarray, protocol: Protocol) -> np.ndarray:
    """A subject's mask after the protocol's lesion stage (`[post] lesion_*`), on its stitched map."""
    p = protocol.post
    return post.filter_lesions(
        mask,
        maps,
        p.lesion_min_area,
        p.lesion_min_max_prob,
        p.lesion_min_mean_prob,
        p.lesion_keep_largest,
        p.lesion_across,
    )


def native_maps(
    probs: np.ndarray, corners: np.ndarray, size: tuple[int, int], shape: tuple[int, int], protocol: Protocol
) -> np.ndarray:
    """Window probabilities stitched at the input's `size`, then upsampled to `shape`: (S, H, W) float32."""
    maps = post.stitch_batch(probs, corners, size, protocol.post.weighting, threads=_threads())
    return upsample(maps, shape)


def upsample(maps: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(S, h, w) float32 probability maps resized to (S, H, W) bilinearly, pixel centres aligned as
    OpenCV's INTER_LINEAR does (tests/test_native.py checks it against cv2.resize). Bilinear rather than
    nearest: thresholding an interpolated map gives smooth native-resolution boundaries, not 4 x 4 blocks."""
    tensor = torch.from_numpy(np.ascontiguousarray(maps, np.float32))[:, None]
    return F.interpolate(tensor, size=tuple(int(v) for v in shape), mode="bilinear", align_corners=False)[:, 0].numpy()


def resample_input(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """An (S, C, H, W) uint8 model input at another slice size: by whole-block means (as [data] scale
    downsamples on load) when the size divides, else by area-weighted means (torch's "area" mode)."""
    image = as_input(image)
    (h, w), (th, tw) = image.shape[-2:], (int(shape[0]), int(shape[1]))
    if (h, w) == (th, tw):
        return image
    s, c = image.shape[:2]
    if h % th == 0 and w % tw == 0 and h // th == w // tw:
        return downsample_image(image.reshape(s * c, h, w), h // th).reshape(s, c, th, tw)
    tensor = torch.from_numpy(np.ascontiguousarray(image, np.float32)).reshape(s * c, 1, h, w)
    out = F.interpolate(tensor, size=(th, tw), mode="area" if th <= h else "bilinear", align_corners=None)
    return np.clip(np.rint(out.numpy()), 0, 255).astype(np.uint8).reshape(s, c, th, tw)


def threshold_counts(
    probs: np.ndarray,
    corners: np.ndarray,
    truth: np.ndarray,
    protocol: Protocol,
    thresholds: list[float],
    morphology: bool = True,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """(S, T, 4) TP, FP, FN, TN per slice and threshold of stitched, post-processed window probabilities
    against `truth`. When the truth is larger than the input's `size`, the stitched map is upsampled to it
    first, as predict_masks does."""
    truth = np.ascontiguousarray(truth, dtype=np.uint8)
    close, open_ = kernels(protocol, morphology)
    if size is None or tuple(size) == truth.shape[1:]:
        weighting = protocol.post.weighting
        return post.threshold_counts(probs, corners, truth, thresholds, close, open_, weighting, threads=_threads())
    maps = native_maps(probs, corners, size, truth.shape[1:], protocol)
    # One window covering the whole slice: its mean stitch is the map itself, bit for bit.
    whole = np.zeros((1, 2), np.int64)
    return post.threshold_counts(maps[:, None], whole, truth, thresholds, close, open_, "mean", threads=_threads())


def _threads() -> int:
    return max(1, torch.get_num_threads())
