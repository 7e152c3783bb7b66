"""Multi-layer perceptron (DETR's MLP: Linear layers in `layers`, ReLU between them, none after the last)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    """input_dim -> hidden_dim x (num_layers - 1) -> output_dim, applied to the last dimension."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"MLP needs at least one layer, got num_layers={num_layers}")
        self.num_layers = num_layers
        hidden = [hidden_dim] * (num_layers - 1)
        widths = zip([input_dim] + hidden, hidden + [output_dim], strict=True)
        self.layers = nn.ModuleList(nn.Linear(n, k) for n, k in widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < self.num_layers - 1:
                x = F.relu(x)
        return x
