"""2-D sine position encoding of feature maps (the DETR formulation)."""
from __future__ import annotations

import math

import torch
import torch.nn as nn


class PositionEmbeddingSine(nn.Module):
    """Sine/cosine encoding of the (y, x) position of every non-padded cell; no parameters.

    Positions are the cumulative counts of valid (mask == False) cells along each axis, so they start at 1. With
    `normalize`, each is divided by the last count of its row/column (+ `eps`) and multiplied by `scale`, which maps
    any crop size to (0, scale]. Channel 2i of each half is sin(p / T^(2i/F)), channel 2i+1 is cos(p / T^(2i/F));
    the y half comes before the x half: output (B, 2F, H, W) for F = `num_pos_feats`.
    """

    def __init__(self, num_pos_feats: int = 64, temperature: float = 10000, normalize: bool = False,
                 scale: float | None = None, eps: float = 1e-6):
        super().__init__()
        if scale is not None and not normalize:
            raise ValueError("PositionEmbeddingSine: a scale is only used with normalize=True")
        if num_pos_feats % 2:
            raise ValueError(f"PositionEmbeddingSine: num_pos_feats must be even, got {num_pos_feats}")
        self.num_pos_feats = num_pos_feats
        self.temperature = temperature
        self.normalize = normalize
        self.scale = 2 * math.pi if scale is None else scale
        self.eps = eps

    def forward(self, mask: torch.Tensor) -> torch.Tensor:
        """mask: (B, H, W) bool, True on padded cells -> (B, 2F, H, W) float32."""
        valid = ~mask
        y = valid.cumsum(1, dtype=torch.float32)
        x = valid.cumsum(2, dtype=torch.float32)
        if self.normalize:
            y = y / (y[:, -1:, :] + self.eps) * self.scale
            x = x / (x[:, :, -1:] + self.eps) * self.scale
        index = torch.arange(self.num_pos_feats, dtype=torch.float32, device=mask.device)
        dim_t = self.temperature ** (2 * torch.div(index, 2, rounding_mode="floor") / self.num_pos_feats)
        return torch.cat((self._interleave(y[..., None] / dim_t), self._interleave(x[..., None] / dim_t)),
                         dim=3).permute(0, 3, 1, 2)

    @staticmethod
    def _interleave(angles: torch.Tensor) -> torch.Tensor:
        """(B, H, W, F) angles -> sin of even channels and cos of odd channels, interleaved."""
        return torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()), dim=4).flatten(3)

    def extra_repr(self) -> str:
        return (f"num_pos_feats={self.num_pos_feats}, temperature={self.temperature}, "
                f"normalize={self.normalize}, scale={self.scale:.4f}")
