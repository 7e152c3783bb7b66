"""Actor: runs the network on a training batch and turns its outputs into a loss (the pytracking pattern)."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn


class BaseActor:
    """Subclasses implement `__call__(data) -> (loss, stats)`.

    data: the collated batch (tensors stacked as (frames, batch, ...)); stats: floats to log, e.g. the loss parts.
    """

    def __init__(self, net: nn.Module, loss_weight: dict[str, float] | None = None):
        self.net = net
        self.loss_weight = dict(loss_weight or {})

    def __call__(self, data: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def to(self, device: torch.device) -> "BaseActor":
        self.net.to(device)
        return self

    def train(self, mode: bool = True) -> None:
        self.net.train(mode)

    def eval(self) -> None:
        self.train(False)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device
