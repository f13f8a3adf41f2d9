"""Prediction: every window of every slice -> probabilities -> ichbench.post -> masks."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

from ichbench import post
from ichbench.protocol import Protocol


def autocast(device: torch.device):
    """bf16 autocast on CUDA; nothing on the CPU (where it would be slower and less exact)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def to_input(windows: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (B, 1, h, w) -> float in [0, 1] on the device, channels-last."""
    x = windows.to(device, non_blocking=True).float().div_(255.0)
    return x.contiguous(memory_format=torch.channels_last)


def prepare_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Move a model to the device in channels-last layout (1.4 to 1.6x faster convolutions on CPU and GPU)."""
    return model.to(device).to(memory_format=torch.channels_last)


def window_probs(
    model: torch.nn.Module, image: np.ndarray, protocol: Protocol, device: torch.device, batch: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Sigmoid probabilities of every grid window of an (S, H, W) uint8 stack: (S, N, h, w), corners."""
    size, stride = protocol.windows.size, protocol.windows.stride
    corners = post.grid(image.shape[1:], size, stride)
    view = sliding_window_view(np.asarray(image), (size, size), axis=(1, 2))
    windows = view[:, corners[:, 0], corners[:, 1]].reshape(-1, 1, size, size)
    out = np.empty((len(windows), size, size), np.float32)
    model.eval()
    with torch.inference_mode(), autocast(device):
        for start in range(0, len(windows), batch):
            chunk = torch.from_numpy(np.ascontiguousarray(windows[start : start + batch]))
            logits = model(to_input(chunk, device))
            out[start : start + len(chunk)] = torch.sigmoid(logits.float())[:, 0].cpu().numpy()
    return out.reshape(len(image), len(corners), size, size), corners


def stitch_probs(probs: np.ndarray, corners: np.ndarray, shape: tuple[int, int], protocol: Protocol) -> np.ndarray:
    """(S, N, h, w) window probabilities -> (S, H, W) slice probabilities."""
    return post.stitch_batch(probs, corners, shape, protocol.post.weighting, threads=_threads())


def binarize(
    prob: np.ndarray, protocol: Protocol, threshold: float | None = None, morphology: bool = True
) -> np.ndarray:
    """The protocol's threshold (or the given one), then its closing and opening unless `morphology` is off."""
    t = protocol.post.threshold if threshold is None else threshold
    close, open_ = (protocol.post.close, protocol.post.open) if morphology else (0, 0)
    return post.binarize(prob, t, close, open_, threads=_threads())


def predict_prob(model: torch.nn.Module, image: np.ndarray, protocol: Protocol, device: torch.device) -> np.ndarray:
    """(S, H, W) stitched probabilities of one subject's slices."""
    probs, corners = window_probs(model, image, protocol, device)
    return stitch_probs(probs, corners, image.shape[1:], protocol)


def _threads() -> int:
    return max(1, torch.get_num_threads())
