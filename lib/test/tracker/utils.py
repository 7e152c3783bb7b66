"""Test-time helpers shared by network trackers: cosine (Hann) windows and crop preprocessing."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch


def hann1d(size: int) -> torch.Tensor:
    """Centred Hann window of `size` taps: 0.5 * (1 - cos(2*pi*k / (size + 1))), k = 1..size.

    The taps never reach zero, so a target on the border of the score map is damped but still reachable.
    """
    k = torch.arange(1, size + 1, dtype=torch.float32)
    return 0.5 * (1 - torch.cos(2 * math.pi * k / (size + 1)))


def hann2d(size: int | Sequence[int]) -> torch.Tensor:
    """Outer product of two `hann1d` windows, shaped (1, 1, H, W) to multiply a (B, 1, H, W) score map."""
    height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    return (hann1d(height)[:, None] * hann1d(width)[None, :])[None, None]


class Preprocessor:
    """HxWxC uint8 crop (RGB, then auxiliary channels) (+ HxW padding mask) -> normalised 1xCxHxW float tensor
    (+ 1xHxW bool mask); C is the number of means/stds given."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], device: str | torch.device = "cpu"):
        if len(mean) < 3 or len(mean) != len(std):
            raise ValueError(f"mean and std need 3 values (RGB), then one per auxiliary channel, as many means as "
                             f"stds; got {list(mean)} and {list(std)}")
        self.device = torch.device(device)
        self.channels = len(mean)
        mean_t = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        std_t = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        # (x / 255 - mean) / std folded into one multiply-add.
        self._scale = 1.0 / (255.0 * std_t)
        self._shift = -mean_t / std_t

    def __call__(self, image: np.ndarray, mask: np.ndarray | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if image.ndim != 3 or image.shape[2] != self.channels or image.dtype != np.uint8:
            raise ValueError(f"expected an HxWx{self.channels} uint8 image, got shape {image.shape} dtype "
                             f"{image.dtype}")
        pixels = torch.from_numpy(np.ascontiguousarray(image)).to(self.device, non_blocking=True)
        tensor = pixels.permute(2, 0, 1).unsqueeze(0).float() * self._scale + self._shift
        if mask is None:
            return tensor, None
        mask_t = torch.as_tensor(np.asarray(mask, dtype=bool)).to(self.device).unsqueeze(0)
        return tensor, mask_t
