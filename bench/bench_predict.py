"""`ichbench predict` speed: a 30-slice 512 x 512 volume, one fold model, 2 CPU cores (paper windows)."""

from __future__ import annotations

import numpy as np
import torch

from ichbench.inference.infer import predict_masks, prepare_model
from ichbench.models import create_model
from ichbench.protocol import load_protocol


class PredictVolume:
    """Windows, model, stitching and post-processing of one volume (the model's weights do not matter)."""

    params = ["unet", "resunet"]
    param_names = ["model"]
    number = 1
    repeat = 2
    timeout = 900

    def setup(self, model: str) -> None:
        torch.manual_seed(0)
        self.protocol = load_protocol("paper")
        self.model = prepare_model(create_model(model), torch.device("cpu")).eval()
        self.volume = np.random.default_rng(0).integers(0, 255, (30, 512, 512), dtype=np.uint8)

    def time_predict_volume(self, model: str) -> None:
        predict_masks(self.model, self.volume, self.protocol, torch.device("cpu"), self.protocol.post.threshold)
