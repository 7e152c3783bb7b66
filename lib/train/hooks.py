"""Trainer hooks: how a family adds work around the generic training loop without editing lib/train/trainer.py
(e.g. a distillation term from a teacher network, a second loss, an EMA of the weights, a schedule of its own).

A hook subclasses `TrainerHook` and overrides what it needs; the family's `trainer_hooks(net, cfg, script)`
returns them and the trainer calls them in order:

    before_epoch(trainer, epoch, training)          epoch is 1-based; training False for validation
    before_step(trainer, batch)                     the batch is already on the device; may add keys
    adjust_loss(trainer, batch, loss, stats) -> loss   after the actor's forward (inside autocast); may add a
                                                    term and record it in `stats`; runs for validation too
    after_step(trainer, batch, stats)               after the optimiser step (training only)
    after_epoch(trainer, epoch, training, stats)    with the epoch's averaged stats
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from lib.train.trainer import Trainer


class TrainerHook:
    """No-op base: every method may be overridden."""

    def before_epoch(self, trainer: "Trainer", epoch: int, training: bool) -> None:
        pass

    def before_step(self, trainer: "Trainer", batch: dict[str, Any]) -> None:
        pass

    def adjust_loss(self, trainer: "Trainer", batch: dict[str, Any], loss: torch.Tensor,
                    stats: dict[str, float]) -> torch.Tensor:
        return loss

    def after_step(self, trainer: "Trainer", batch: dict[str, Any], stats: dict[str, float]) -> None:
        pass

    def after_epoch(self, trainer: "Trainer", epoch: int, training: bool, stats: dict[str, float]) -> None:
        pass
